"""Named tuples returned by ops such as ``max(dim)``, printed as PyTorch prints them."""

import collections


def _make(name):
    base = collections.namedtuple(name, ["values", "indices"])

    def __repr__(self):
        return (f"torch.return_types.{name}(\nvalues={self.values!r},\n"
                f"indices={self.indices!r})")

    return type(name, (base,), {"__repr__": __repr__, "__slots__": (),
                                "__doc__": f"``(values, indices)`` returned by ``{name}(dim)``."})


max = _make("max")
min = _make("min")
sort = _make("sort")
topk = _make("topk")
