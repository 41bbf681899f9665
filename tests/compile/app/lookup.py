import json
import pathlib

# A data file beside the module: carried because compile was given
# --include data.
WORDS = json.loads((pathlib.Path(__file__).parent / "data" / "words.txt").read_text())


def lookup(word):
    return WORDS.get(word, "unknown")
