"""Recurrent's random generator and shuffle (Sources/Recurrent/Tensor/Random.swift and the
trainer's Fisher-Yates), for scripts that reproduce a split or a batch order exactly."""

MASK64 = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)


def shuffle(items, rng):
    """In place, as Recurrent shuffles: for i from the end, swap with rng.next() % (i + 1)."""
    for i in range(len(items) - 1, 0, -1):
        j = rng.next() % (i + 1)
        items[i], items[j] = items[j], items[i]
