def bulk_discount(quantity, subtotal):
    """10% off from 10 items."""
    return round(subtotal * 0.1, 2) if quantity >= 10 else 0.0
