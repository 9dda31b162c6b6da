"""How organization names are compared: a workbook's cover names its organization, and the
workspace's organization of the same name is found with case and spacing folded."""


def name_key(name: str) -> str:
    """An organization's name as the cover is matched by it: case and spacing folded."""
    return " ".join(name.casefold().split())
