"""The operations behind the commands and the API: profile, compare, sweep."""
