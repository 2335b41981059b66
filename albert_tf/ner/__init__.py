"""Token classification (NER) data: readers, tag schemes, windows of pieces, metrics, prediction files."""
