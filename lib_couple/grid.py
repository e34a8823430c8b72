"""The token grid of an attention layer, derived from the real latent shape."""

from __future__ import annotations

from functools import lru_cache

from lib_couple.errors import CoupleError

# More halvings than any UNet has; the search stops at a 1 x 1 grid anyway.
MAX_HALVINGS = 16


def halve_ceil(size: int, times: int) -> int:
    """Size after `times` stride-2 downsamplings with padding 1, which round up."""
    for _ in range(times):
        size = (size + 1) // 2
    return size


@lru_cache(maxsize=256)
def token_grid(latent_height: int, latent_width: int, num_tokens: int) -> tuple[int, int]:
    """The (h, w) at which a layer with `num_tokens` tokens sees a latent of this size.

    A UNet halves the latent with rounding up at each level, so level k has
    ceil(H / 2^k) x ceil(W / 2^k) tokens; the product decreases strictly with k until 1 x 1,
    so at most one level matches.
    """
    if latent_height < 1 or latent_width < 1:
        raise CoupleError(f"latent size {latent_height}x{latent_width} is empty")
    for level in range(MAX_HALVINGS + 1):
        h, w = halve_ceil(latent_height, level), halve_ceil(latent_width, level)
        if h * w == num_tokens:
            return h, w
        if h * w < num_tokens or (h == 1 and w == 1):
            break
    raise CoupleError(
        f"an attention layer has {num_tokens} tokens, which is no downsampling level of a "
        f"{latent_height}x{latent_width} latent; this model's layout is not supported"
    )
