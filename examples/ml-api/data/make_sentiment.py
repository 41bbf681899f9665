"""Writes sentiment.csv: short product and service reviews labelled
negative, neutral or positive, written for this example.

Each review joins an opening about a subject with an opinion phrase of one
class (and, for some, a second phrase of the same class), so that the words
that carry the sentiment appear in many contexts. Run it to regenerate the
file; the output is deterministic (seeded), and the committed CSV is what
training reads.
"""

import csv
import random
from pathlib import Path

SUBJECTS = [
    "the laptop", "this phone", "the hotel room", "the delivery", "the support team",
    "the new update", "this restaurant", "the headphones", "the checkout page", "the movie",
    "the coffee", "this app", "the battery", "the customer service", "the camera",
    "the train ride", "the book", "the course", "the keyboard", "the website",
]

OPENINGS = ["{s} is", "honestly {s} was", "I think {s} is", "overall {s} was", "my experience with {s} was"]

PHRASES = {
    "positive": [
        "excellent and I love it", "really great value", "fantastic, works perfectly",
        "amazing, better than I expected", "wonderful and very reliable", "superb quality",
        "delightful to use every day", "fast, friendly and helpful", "brilliant, highly recommended",
        "a pleasure, I am very happy", "awesome and beautifully made", "perfect for my needs",
        "impressive and easy to use", "outstanding, five stars", "lovely, would buy again",
    ],
    "negative": [
        "terrible and I hate it", "a complete waste of money", "awful, it broke after a day",
        "horrible, worse than I expected", "disappointing and very unreliable", "poor quality",
        "frustrating to use every day", "slow, rude and unhelpful", "broken, do not recommend",
        "a nightmare, I am very angry", "useless and badly made", "the worst purchase I made",
        "buggy and hard to use", "dreadful, one star", "annoying, I want a refund",
    ],
    "neutral": [
        "okay, nothing special", "average, as described", "fine, it does the job",
        "what I expected, no more no less", "acceptable for the price", "ordinary",
        "neither good nor bad", "standard, like the others", "adequate for basic use",
        "mediocre but usable", "about the same as before", "decent enough, I suppose",
        "plain and simple", "as advertised", "so-so, it is alright",
    ],
}


def reviews(rng):
    rows = []
    for label, phrases in PHRASES.items():
        for subject in SUBJECTS:
            for _ in range(12):
                opening = rng.choice(OPENINGS).format(s=subject)
                first = rng.choice(phrases)
                text = f"{opening} {first}"
                if rng.random() < 0.4:
                    second = rng.choice([p for p in phrases if p != first])
                    text += f", {second}"
                rows.append((text[0].upper() + text[1:] + ".", label))
    rng.shuffle(rows)
    # The same sentence can come up twice; keep one of each.
    seen, unique = set(), []
    for row in rows:
        if row[0] not in seen:
            seen.add(row[0])
            unique.append(row)
    return unique


def main():
    rows = reviews(random.Random(7))
    path = Path(__file__).with_name("sentiment.csv")
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} reviews to {path}")


if __name__ == "__main__":
    main()
