"""Templates `batcher init` copies: contacts.xlsx/.csv and a commented campaign.toml."""
