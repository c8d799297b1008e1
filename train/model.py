"""The reader network: a (possibly truncated) MiniLM BERT with a span head over tokens and two
[CLS] outputs: answer-in-window and relevance."""
from __future__ import annotations

import torch
from torch import nn


class ReaderNet(nn.Module):
    def __init__(self, bert, hidden: int):
        super().__init__()
        self.bert = bert
        self.span = nn.Linear(hidden, 2)
        self.cls = nn.Sequential(nn.Linear(hidden, hidden), nn.Tanh(), nn.Dropout(0.1), nn.Linear(hidden, 2))

    @classmethod
    def from_base(cls, model_path, layers: int | None = None) -> "ReaderNet":
        from transformers import BertModel

        bert = BertModel.from_pretrained(str(model_path), local_files_only=True, add_pooling_layer=False)
        if layers is not None and layers < len(bert.encoder.layer):
            bert.encoder.layer = bert.encoder.layer[:layers]
            bert.config.num_hidden_layers = layers
        net = cls(bert, bert.config.hidden_size)
        for m in (net.span, net.cls[0], net.cls[3]):
            nn.init.normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
        return net

    def forward(self, input_ids, attention_mask, token_type_ids):
        h = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
        span = self.span(h)
        return span[..., 0], span[..., 1], self.cls(h[:, 0])


def losses(outputs, batch, weights=(1.0, 1.0, 0.5)):
    """Span cross-entropy on rows with a span (window tokens only), BCE for answer-in-window and
    relevance on rows with those labels."""
    start, end, cls = outputs
    # a graph-connected zero from the raw (finite) logits: the masked ones sum to -inf, and -inf * 0 is nan
    zero = start.sum() * 0
    ctx = batch["context_mask"]
    neg = torch.finfo(start.dtype).min / 2
    start = start.masked_fill(~ctx, neg)
    end = end.masked_fill(~ctx, neg)
    has_span = batch["start_pos"] >= 0
    if has_span.any():
        ce = nn.functional.cross_entropy
        span_loss = (ce(start[has_span], batch["start_pos"][has_span]) + ce(end[has_span], batch["end_pos"][has_span])) / 2
    else:
        span_loss = zero
    bce = nn.functional.binary_cross_entropy_with_logits
    ha = batch["has_answer"]
    m = ha >= 0
    ans_loss = bce(cls[m, 0], ha[m].float()) if m.any() else zero
    rel = batch["relevant"]
    m = rel >= 0
    rel_loss = bce(cls[m, 1], rel[m].float()) if m.any() else zero
    total = weights[0] * span_loss + weights[1] * ans_loss + weights[2] * rel_loss
    return total, {"span": float(span_loss.detach()), "ans": float(ans_loss.detach()), "rel": float(rel_loss.detach())}
