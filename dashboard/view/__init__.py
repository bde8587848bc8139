"""Pieces every live page shares: the player, the live view, the controls, the schema-driven form."""
