"""Tiny LeRobot checkpoints built offline with LeRobot's own classes (random weights), saved as
a `pretrained_model/` folder exactly as `lerobot-train` writes one: config.json,
model.safetensors and the processor JSON + normalizer safetensors. Runs under the Python 3.12
LeRobot venv only."""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

ACTION_DIM, STATE_DIM = 6, 6
CAMERAS = ("observation.images.top", "observation.images.wrist.left")


def _features(image_hw=(24, 32), cameras=CAMERAS, state=True):
    from lerobot.configs.types import FeatureType, PolicyFeature

    inputs = {k: PolicyFeature(FeatureType.VISUAL, (3, *image_hw)) for k in cameras}
    if state:
        inputs["observation.state"] = PolicyFeature(FeatureType.STATE, (STATE_DIM,))
    outputs = {"action": PolicyFeature(FeatureType.ACTION, (ACTION_DIM,))}
    return inputs, outputs


def dataset_stats(cameras=CAMERAS, seed=0) -> dict[str, dict[str, torch.Tensor]]:
    """Statistics as LeRobotDataset computes them (mean/std/min/max/q01/q99 per feature)."""
    g = torch.Generator().manual_seed(seed)
    stats = {}
    for key, n in (("observation.state", STATE_DIM), ("action", ACTION_DIM)):
        mean = torch.randn(n, generator=g)
        std = 0.5 + torch.rand(n, generator=g)
        stats[key] = {
            "mean": mean,
            "std": std,
            "min": mean - 3 * std,
            "max": mean + 3 * std,
            "q01": mean - 2.3 * std,
            "q99": mean + 2.3 * std,
        }
    for key in cameras:
        stats[key] = {
            "mean": torch.full((3, 1, 1), 0.45),
            "std": torch.full((3, 1, 1), 0.25),
            "min": torch.zeros(3, 1, 1),
            "max": torch.ones(3, 1, 1),
        }
    return stats


def save(policy, cfg, out: Path, stats) -> Path:
    from lerobot.policies.factory import make_pre_post_processors

    out.mkdir(parents=True, exist_ok=True)
    policy.save_pretrained(out)
    pre, post = make_pre_post_processors(cfg, dataset_stats=stats)
    pre.save_pretrained(out)
    post.save_pretrained(out)
    return out


def act(out: Path, seed: int = 0, **overrides) -> Path:
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.act.modeling_act import ACTPolicy

    torch.manual_seed(seed)
    inputs, outputs = _features()
    cfg = ACTConfig(
        input_features=inputs,
        output_features=outputs,
        chunk_size=10,
        n_action_steps=5,
        dim_model=32,
        n_heads=2,
        dim_feedforward=64,
        n_encoder_layers=1,
        n_decoder_layers=1,
        n_vae_encoder_layers=1,
        latent_dim=8,
        pretrained_backbone_weights=None,
        device="cpu",
        **overrides,
    )
    return save(ACTPolicy(cfg).eval(), cfg, out, dataset_stats())


def diffusion(out: Path, seed: int = 0, **overrides) -> Path:
    from lerobot.policies.diffusion.configuration_diffusion import DiffusionConfig
    from lerobot.policies.diffusion.modeling_diffusion import DiffusionPolicy

    torch.manual_seed(seed)
    inputs, outputs = _features(image_hw=(48, 48), cameras=CAMERAS[:1])
    kw = dict(
        input_features=inputs,
        output_features=outputs,
        n_obs_steps=1,
        horizon=8,
        n_action_steps=4,
        down_dims=(16, 32),
        kernel_size=3,
        n_groups=4,
        diffusion_step_embed_dim=16,
        spatial_softmax_num_keypoints=8,
        crop_shape=None,
        pretrained_backbone_weights=None,
        use_group_norm=True,
        noise_scheduler_type="DDIM",
        num_train_timesteps=20,
        num_inference_steps=5,
        device="cpu",
    )
    kw.update(overrides)
    cfg = DiffusionConfig(**kw)
    stats = dataset_stats(cameras=CAMERAS[:1])
    return save(DiffusionPolicy(cfg).eval(), cfg, out, stats)


WORDS = "pick up the red block open drawer push button put cup on plate close window reach goal"


def smolvlm_folder(out: Path) -> Path:
    """A tiny SmolVLM folder (config, word-level tokenizer with SmolVLM's image tokens,
    processor) standing in for HuggingFaceTB/SmolVLM2-500M-Video-Instruct, offline."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, SmolVLMConfig, SmolVLMProcessor
    from transformers.models.smolvlm.image_processing_smolvlm import SmolVLMImageProcessor
    from transformers.models.smolvlm.video_processing_smolvlm import SmolVLMVideoProcessor

    special = [
        "<pad>",
        "<unk>",
        "<fake_token_around_image>",
        "<global-img>",
        "<image>",
        "<end_of_utterance>",
        "<video>",
    ]
    vocab = {t: i for i, t in enumerate([*special, *WORDS.split(), "\n"])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(" ", "removed"), pre_tokenizers.Split("\n", "isolated")]
    )
    names = ("fake_image_token", "global_image_token", "image_token", "end_of_utterance_token")
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        unk_token="<unk>",
        extra_special_tokens=dict(zip(names, special[2:6], strict=True)),
    )
    SmolVLMConfig(
        text_config=dict(
            model_type="llama",
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
            head_dim=16,
            vocab_size=len(vocab),
            max_position_embeddings=256,
            rope_theta=100000.0,
        ),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=32,
            patch_size=8,
        ),
        scale_factor=2,
        image_token_id=vocab["<image>"],
    ).save_pretrained(out)
    images = SmolVLMImageProcessor(
        do_resize=False,
        do_image_splitting=False,
        size={"longest_edge": 32},
        max_image_size={"longest_edge": 32},
    )
    SmolVLMProcessor(
        image_processor=images,
        tokenizer=fast,
        video_processor=SmolVLMVideoProcessor(),
        image_seq_len=4,
    ).save_pretrained(out)
    return out


def smolvla(out: Path, seed: int = 0, **overrides) -> Path:
    from lerobot.policies.smolvla.configuration_smolvla import SmolVLAConfig
    from lerobot.policies.smolvla.modeling_smolvla import SmolVLAPolicy

    torch.manual_seed(seed)
    vlm = smolvlm_folder(out.parent / "smolvlm")
    inputs, outputs = _features(image_hw=(40, 48), cameras=CAMERAS[:1])
    kw = dict(
        input_features=inputs,
        output_features=outputs,
        vlm_model_name=str(vlm),
        load_vlm_weights=False,
        num_vlm_layers=2,
        resize_imgs_with_padding=(32, 32),
        tokenizer_max_length=12,
        chunk_size=6,
        n_action_steps=3,
        max_state_dim=8,
        max_action_dim=8,
        num_steps=3,
        expert_width_multiplier=0.5,
        device="cpu",
    )
    kw.update(overrides)
    cfg = SmolVLAConfig(**kw)
    return save(SmolVLAPolicy(cfg).eval(), cfg, out, dataset_stats(cameras=CAMERAS[:1]))


# --- pi0 / pi0.5: LeRobot builds PaliGemma from a fixed size table -----------------------------
PI_WORDS = [*WORDS.split(), "Task", "State", "Action", ":", ",", ";", "\n"]
PI_WORDS += [str(i) for i in range(256)]  # pi0.5 writes the binned state into the prompt
# (width, depth, mlp_dim, num_heads, num_kv_heads, head_dim): the VLM and the expert share the
# depth and the attention shape (their layers attend jointly), as gemma_2b / gemma_300m do
TINY_GEMMA = {"gemma_2b": (64, 2, 128, 2, 1, 16), "gemma_300m": (32, 2, 64, 2, 1, 16)}
TINY_SIGLIP = dict(
    hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, patch_size=8
)


def paligemma_tokenizer(out: Path) -> Path:
    """A word-level tokenizer standing in for google/paligemma-3b-pt-224 (offline): <bos>
    prepended as PaliGemma's does, <pad> 0, the words of the tests' instructions, pi0.5's
    prompt words and the numbers 0..255 for its state bins."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(["<pad>", "<eos>", "<bos>", "<unk>", *PI_WORDS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(" ", "removed"),
            pre_tokenizers.Split("\n", "isolated"),
            pre_tokenizers.Punctuation("isolated"),
        ]
    )
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A", special_tokens=[("<bos>", vocab["<bos>"])]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
    )
    fast.save_pretrained(out)
    return out


@contextlib.contextmanager
def tiny_paligemma(vocab_size: int = 4 + len(PI_WORDS)):
    """While active, LeRobot's pi0 / pi0.5 build a tiny PaliGemma: Gemma widths from TINY_GEMMA
    instead of gemma_2b / gemma_300m, a one-layer SigLIP, a vocabulary the size of
    `paligemma_tokenizer`'s. Everything else (the forward code, masks, KV cache, sampler) is
    LeRobot's own. Needed both to build a checkpoint and to load it again."""
    from unittest import mock

    from lerobot.policies.pi0 import modeling_pi0
    from lerobot.policies.pi05 import modeling_pi05

    vlm_cls = modeling_pi0.PaliGemmaForConditionalGenerationWithPiGemma
    expert_cls = modeling_pi0.PiGemmaForCausalLM

    def gemma_config(variant):
        return modeling_pi0.GemmaConfig(*TINY_GEMMA[variant])

    def vlm(config):
        for k, v in TINY_SIGLIP.items():
            setattr(config.vision_config, k, v)
        config.vision_config.projection_dim = config.text_config.hidden_size
        config.text_config.vocab_size = vocab_size
        config._vocab_size = vocab_size
        config.image_token_index = vocab_size - 1  # unused: pi0 concatenates embeddings
        return vlm_cls(config=config)

    def expert(config):
        config.vocab_size = vocab_size
        return expert_cls(config=config)

    with contextlib.ExitStack() as stack:
        for mod in (modeling_pi0, modeling_pi05):
            stack.enter_context(mock.patch.object(mod, "get_gemma_config", gemma_config))
            stack.enter_context(
                mock.patch.object(mod, "PaliGemmaForConditionalGenerationWithPiGemma", vlm)
            )
            stack.enter_context(mock.patch.object(mod, "PiGemmaForCausalLM", expert))
        yield


def _pi(kind: str, out: Path, seed: int, overrides: dict) -> Path:
    """pi0 or pi05 (`kind`), saved with processors whose tokenizer is the local tiny one."""
    from unittest import mock

    from lerobot.policies.factory import get_policy_class, make_policy_config
    from lerobot.processor import TokenizerProcessorStep

    torch.manual_seed(seed)
    tok_dir = paligemma_tokenizer(out.parent / "paligemma-tokenizer")
    inputs, outputs = _features(image_hw=(40, 48), cameras=CAMERAS[:1])
    kw = dict(
        input_features=inputs,
        output_features=outputs,
        image_resolution=(32, 32),
        tokenizer_max_length=16 if kind == "pi0" else 32,
        chunk_size=6,
        n_action_steps=3,
        max_state_dim=8,
        max_action_dim=8,
        num_inference_steps=3,
        device="cpu",
    )
    kw.update(overrides)
    cfg = make_policy_config(kind, **kw)

    def local_tokenizer(**step_kw):  # the hub name -> the tiny local folder, saved as such
        step_kw["tokenizer_name"] = str(tok_dir)
        return TokenizerProcessorStep(**step_kw)

    proc = f"lerobot.policies.{kind}.processor_{kind}.TokenizerProcessorStep"
    with tiny_paligemma(), mock.patch(proc, local_tokenizer):
        policy = get_policy_class(kind)(cfg).eval()
        return save(policy, cfg, out, dataset_stats(cameras=CAMERAS[:1]))


def pi0(out: Path, seed: int = 0, **overrides) -> Path:
    return _pi("pi0", out, seed, overrides)


def pi05(out: Path, seed: int = 0, **overrides) -> Path:
    return _pi("pi05", out, seed, overrides)
