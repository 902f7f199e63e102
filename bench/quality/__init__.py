"""Quality benchmark: recall, precision and span accuracy per form of reproduction."""
