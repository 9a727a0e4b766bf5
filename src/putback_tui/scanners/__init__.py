"""HID barcode scanners: read through evdev, decoded into scans with the configured layout."""
