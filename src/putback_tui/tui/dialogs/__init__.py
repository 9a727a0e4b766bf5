"""Dialogs shown over a screen: help (with the demo codes on the demo data set)."""
