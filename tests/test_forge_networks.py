"""The extra networks' part of the region-encoding cache key, with doubles shaped like Forge's."""

from __future__ import annotations

import gc

from lib_couple.hosts.forge.networks import network_key
from lib_couple.hosts.forge.runner import CoupleRunner
from lib_couple.memory.attention_cache import cache_key
from lib_couple.params import CoupleParams, params_to_args
from tests.doubles.forge_processing import (
    ExtraNetworkParams,
    Processing,
    SdModel,
    Services,
    lora,
    run_generation,
)


def test_the_key_holds_the_values_not_addresses() -> None:
    data = lora("style", 0.8)
    assert "0x" in repr(data)  # why repr() was a wrong key: Forge's params have no __repr__
    assert "0x" not in repr(network_key(data))
    assert network_key(data) == network_key(lora("style", 0.8))


def test_freed_and_reallocated_params_keep_weights_apart() -> None:
    # Each generation's objects are freed before the next is made, so addresses are reused.
    keys: dict[str, set[str]] = {}
    for index in range(200):
        weight = ("0.5", "0.8")[index % 2]
        data = {"lora": [ExtraNetworkParams(["style", weight])]}
        keys.setdefault(weight, set()).add(cache_key(network_key(data)))
        del data
        gc.collect()
    assert len(keys["0.5"]) == 1  # equal weights: one key
    assert len(keys["0.8"]) == 1
    assert keys["0.5"] != keys["0.8"]  # different weights: never the same


def test_names_named_arguments_and_order_of_networks_count() -> None:
    base = network_key({"lora": [ExtraNetworkParams(["a", "0.5"])]})
    assert network_key({"lora": [ExtraNetworkParams(["b", "0.5"])]}) != base
    assert network_key({"lora": [ExtraNetworkParams(["a", "0.5", "te=0.2"])]}) != base
    assert network_key({"hypernet": [ExtraNetworkParams(["a", "0.5"])]}) != base
    assert network_key({}) == ()


def test_a_value_of_unknown_shape_never_shares_a_key() -> None:
    class Opaque:
        pass

    assert network_key(Opaque()) != network_key(Opaque())
    assert network_key({"lora": [Opaque()]}) != network_key({"lora": [Opaque()]})


def test_a_lora_weight_change_encodes_again_and_the_old_weight_is_reused() -> None:
    runner = CoupleRunner(Services())
    model = SdModel(flags=("is_sd1",))
    arguments = params_to_args(CoupleParams(enabled=True))

    def generate(weight: float) -> list[str]:
        p = Processing("a red circle\na blue square", model, extra_network_data=lora("style", weight))
        before = len(model.encode_calls)
        run_generation(runner, p, arguments)
        return model.encode_calls[before:]

    assert generate(0.5) == ["a red circle", "a blue square"]
    gc.collect()
    assert generate(0.8) == ["a red circle", "a blue square"]  # another weight: not served from 0.5
    gc.collect()
    assert generate(0.5) == []  # the same weight again, on fresh objects: served
