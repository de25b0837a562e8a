"""The public directory of a city's shops and neighbourhoods: names people read."""
