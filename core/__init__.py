"""What every Connect app shares and nothing else: the versioned configuration base model, the JSON API helpers, who
may see the configuration pages, and who is calling the item API (HackSoftware's `common` app)."""
