"""The operator's screens: sign in, order, put-back (item, then location), live order."""
