"""``microtorch.device``: where a tensor's memory lives ('cpu' or 'cuda:N')."""


class device:
    """A device, as ``torch.device``: ``device('cpu')``, ``device('cuda')``, ``device('cuda', 0)``."""

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            type, index = type.type, type.index
        elif ":" in type:
            type, _, idx = type.partition(":")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}:{idx}'")
            index = int(idx)
        if type not in ("cpu", "cuda"):
            raise RuntimeError(
                "Expected one of cpu, cuda device type at start of device string: " + type
            )
        self.type = type
        self.index = index

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))


CPU = device("cpu")


def as_device(d):
    """Normalise None, a string or a device to a device; 'cuda' means 'cuda:0'."""
    if d is None:
        return CPU
    d = d if isinstance(d, device) else device(d) if isinstance(d, str) else device("cuda", d)
    if d.type == "cuda" and d.index is None:
        return device("cuda", 0)
    return d
