"""BERT-style text backbones: AC-BERT and Res-BERT (arXiv 2506.09714, §4.2), a faithful equivalent of Hugging
Face's ``BertModel`` layers written on torch.

A layer is post-LN as in ``BertLayer``: attention sub-layer ``LN(Dropout(Dense(MHA(x))) [+ x])``,
then feed-forward ``LN(Dropout(Dense(GELU(Dense(h)))) [+ h])``; the ``+ input`` adds exist only in
the residual twin (``residual=True``), so the ACN layer keeps dense -> dropout -> LayerNorm and
drops the adds. The ACN output is ``x_0 + sum x_i`` (``x_0`` the embeddings' output) with no
extra LayerNorm, and neither twin has a final norm: the heads read the sum (ACN) or the last
layer (residual) directly.

Inputs are token ids ``B x T``; padding (``pad_id``) is masked out of attention, and segment ids
are read off the ids (tokens after the first ``[SEP]`` are segment B), so one tensor carries a
sentence pair. Heads: :class:`MaskedLMHead` (dense, GELU, LN, decoder tied to the word
embeddings) for pre-training, :class:`PoolerHead` (dense + tanh on token 0, dropout, linear) for
GLUE; both apply at any depth, so probing works as for images.
"""

from __future__ import annotations

import functools
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from acn_bench.backbones.base import EXAMPLE_SEED, Backbone
from acn_bench.backbones.connectivity import make_connectivity
from acn_bench.backbones.validation import check_architecture
from acn_bench.errors import require

LN_EPS = 1e-12  # BertConfig.layer_norm_eps
EXAMPLE_LEN = 128  # tokens of an example input (the paper's sequence length), unless max_len is shorter


class TextEmbedding(nn.Module):
    """Word + position + segment embeddings, LayerNorm, dropout (``BertEmbeddings``)."""

    def __init__(self, vocab_size: int, dim: int, max_len: int, dropout: float, pad_id: int, sep_id: int) -> None:
        super().__init__()
        self.word = nn.Embedding(vocab_size, dim, padding_idx=pad_id)
        self.position = nn.Embedding(max_len, dim)
        self.segment = nn.Embedding(2, dim)
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.dropout = nn.Dropout(dropout)
        self.pad_id, self.sep_id, self.max_len = pad_id, sep_id, max_len

    def segments(self, ids: torch.Tensor) -> torch.Tensor:
        """0 up to and including the first ``[SEP]``, 1 after it."""
        sep = (ids == self.sep_id).long()
        return (sep.cumsum(dim=1) - sep).clamp(max=1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.word(ids) + self.position(positions)[None] + self.segment(self.segments(ids))
        return self.dropout(self.norm(x))


class SelfAttention(nn.Module):
    """Multi-head self-attention with BERT's output projection and dropout (no residual, no norm)."""

    def __init__(self, dim: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.attn_dropout = dropout
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, tokens, dim = x.shape
        q, k, v = self.qkv(x).view(batch, tokens, 3, self.num_heads, dim // self.num_heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask[:, None, None, :], dropout_p=self.attn_dropout if self.training else 0.0
        )
        return self.dropout(self.proj(out.transpose(1, 2).reshape(batch, tokens, dim)))


class FeedForward(nn.Module):
    """Dense -> GELU -> dense -> dropout."""

    def __init__(self, dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.fc2(F.gelu(self.fc1(x))))


class BertBlock(nn.Module):
    """One post-LN BERT layer; the residual adds only with ``residual=True`` (the residual twin)."""

    def __init__(self, dim: int, num_heads: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.attn = SelfAttention(dim, num_heads, dropout)
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.ffn = FeedForward(dim, hidden, dropout)
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)

    def forward(self, x: torch.Tensor, residual: bool = False, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None:
            mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        h = self.attn(x, mask)
        h = self.norm1(h + x if residual else h)
        out = self.ffn(h)
        return self.norm2(out + h if residual else out)


class PoolerHead(nn.Module):
    """BERT's pooler (dense + tanh on token 0), dropout and the task classifier ``fc``."""

    def __init__(self, dim: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.pooler = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, rep: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Task outputs ``B x C`` of a token representation, or with ``pre_logits`` the pooled features ``B x dim``."""
        pooled = torch.tanh(self.pooler(rep[:, 0]))
        return pooled if pre_logits else self.fc(self.dropout(pooled))


class MaskedLMHead(nn.Module):
    """BERT's MLM head: dense, GELU, LayerNorm, then the decoder ``fc`` (weight tied to the word embeddings)."""

    def __init__(self, embedding: nn.Embedding) -> None:
        super().__init__()
        vocab_size, dim = embedding.weight.shape
        self.transform = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.fc = nn.Linear(dim, vocab_size)
        self.fc.weight = embedding.weight

    def forward(self, rep: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Vocabulary logits ``B x T x V``, or with ``pre_logits`` the transformed tokens the decoder reads."""
        features = self.norm(F.gelu(self.transform(rep)))
        return features if pre_logits else self.fc(features)

    def masked_logits(self, rep: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits ``N x V`` at the flat token positions ``index`` of ``rep`` (``B x T x dim``) only.

        The tokens are gathered before the head runs, so the decoder (the largest matrix product of
        MLM pre-training) computes only the ``N`` rows a loss reads (about 15% of the tokens)
        instead of all ``B·T``; every row is what :meth:`forward` gives at that position.
        """
        return self(rep.flatten(0, 1).index_select(0, index))


class TextBackbone(Backbone):
    """A :class:`Backbone` over token ids whose blocks are told which tokens are padding."""

    def embed_and_blocks(self, x: torch.Tensor) -> tuple[torch.Tensor, list[Callable[..., torch.Tensor]]]:
        mask = x != self.embed.pad_id
        return self.embed(x), [functools.partial(block, mask=mask) for block in self.blocks]

    def example_input(
        self, batch: int = 2, device: torch.device | str | None = None, *, shape: Sequence[int] | None = None
    ) -> torch.Tensor:
        """Seeded random token ids ``B x T`` (int64; the same on every call), T = ``min(max_len, 128)``
        unless ``shape`` (one sample's shape, ``(T,)``) says otherwise. The ids lie above the padding
        and separator ids, so every token is attended to and in the first segment."""
        (length,) = shape or (min(self.config["max_len"], EXAMPLE_LEN),)
        low = max(self.config["pad_id"], self.config["sep_id"]) + 1
        generator = torch.Generator().manual_seed(EXAMPLE_SEED)
        return torch.randint(low, self.config["vocab_size"], (batch, length), generator=generator).to(device)

    def use_mlm_head(self) -> None:
        """Put the masked-language-model head on (pre-training); its decoder shares the word embeddings."""
        head = MaskedLMHead(self.embed.word)
        head.transform.apply(_init_bert_weights)
        head.norm.apply(_init_bert_weights)
        torch.nn.init.zeros_(head.fc.bias)  # the decoder weight is the (already initialised) word embedding
        self.head = head.to(self.embed.word.weight.device)
        self.config["head"] = "mlm"

    def use_classifier_head(self, num_classes: int) -> None:
        """Put a fresh pooler + classifier on for a task with ``num_classes`` outputs (1: regression)."""
        device = self.embed.word.weight.device
        self.head = (
            PoolerHead(self.num_features, num_classes, self.config["dropout"]).apply(_init_bert_weights).to(device)
        )
        self.config.update(head="pooler", num_classes=num_classes)

    @property
    def num_features(self) -> int:
        return self.embed.word.weight.shape[1]


def build_bert(
    *,
    connectivity: str = "residual",
    vocab_size: int = 32768,
    depth: int = 12,
    dim: int = 768,
    num_heads: int = 12,
    hidden: int = 3072,
    max_len: int = 512,
    dropout: float = 0.1,
    num_classes: int = 2,
    pad_id: int = 0,
    sep_id: int = 3,
    name: str = "bert",
) -> TextBackbone:
    """Build a BERT-style backbone with the given connectivity and a pooler + classifier head.

    Args:
        vocab_size: WordPiece vocabulary size (the paper trains one of 32,768 on the corpus).
        hidden: feed-forward width.
        max_len: longest sequence (position embeddings).
        num_classes: classifier outputs (1: regression, e.g. STS-B).
        pad_id, sep_id: the tokenizer's ``[PAD]`` and ``[SEP]`` ids (``tokenizers``' BERT WordPiece
            trainer puts ``[PAD]``, ``[UNK]``, ``[CLS]``, ``[SEP]``, ``[MASK]`` at 0..4).
    """
    check_architecture(depth=depth, dim=dim, num_classes=num_classes)
    require(dim % num_heads == 0, f"dim {dim} must be divisible by num_heads {num_heads}.")
    require(vocab_size > max(pad_id, sep_id), f"vocab_size {vocab_size} must exceed the special token ids.")
    embed = TextEmbedding(vocab_size, dim, max_len, dropout, pad_id, sep_id)
    blocks = nn.ModuleList(BertBlock(dim, num_heads, hidden, dropout) for _ in range(depth))
    config = dict(
        name=name,
        family="bert",
        vocab_size=vocab_size,
        dim=dim,
        num_heads=num_heads,
        hidden=hidden,
        max_len=max_len,
        dropout=dropout,
        num_classes=num_classes,
        pad_id=pad_id,
        sep_id=sep_id,
        head="pooler",
    )
    model = TextBackbone(
        embed, blocks, make_connectivity(connectivity, depth, dim), PoolerHead(dim, num_classes, dropout), config
    )
    model.apply(_init_bert_weights)
    return model


def _init_bert_weights(module: nn.Module) -> None:
    """``BertPreTrainedModel._init_weights``: N(0, 0.02) weights, zero biases, unit LayerNorms."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            nn.init.zeros_(module.weight[module.padding_idx])
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
