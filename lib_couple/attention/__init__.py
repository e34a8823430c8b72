"""Regional cross-attention: the engine that every host adapter feeds."""

from lib_couple.attention.couple import RegionalAttention
from lib_couple.attention.cross_attention import multihead_attention, regional_cross_attention

__all__ = ["RegionalAttention", "multihead_attention", "regional_cross_attention"]
