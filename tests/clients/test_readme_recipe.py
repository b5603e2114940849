"""The webhook recipe of README.md's "Webhooks" section: it runs, accepts a genuine webhook
(also during a secret rotation), refuses a forged one, and compares signatures in constant time
(`hmac.compare_digest`, never `in` on a list of strings)."""

from __future__ import annotations

import ast
import re
import time
from pathlib import Path
from typing import Any

from passemarche_client.webhooks import sign_webhook

README = Path(__file__).resolve().parents[2] / "README.md"
BODY = b'{"event": "market.completed", "market": {"identifier": "VR-2030-ABCDEFGHIJKL"}}'


def recipe() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Webhooks\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "one python block in README's Webhooks section"
    return blocks[0]


def verify_function() -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(recipe(), "README.md#webhooks", "exec"), namespace)  # noqa: S102  (our README)
    return namespace["verify"]


def test_the_recipe_accepts_a_genuine_webhook_and_refuses_a_forged_one():
    verify = verify_function()
    headers = sign_webhook("s3cret", BODY, "msg_1", int(time.time()))
    assert verify("s3cret", headers, BODY)
    rotated = dict(headers, **{"webhook-signature": "v1,b2xk " + headers["webhook-signature"]})
    assert verify("s3cret", rotated, BODY)
    assert not verify("other", headers, BODY)
    forged = sign_webhook("other", BODY, "msg_1", int(time.time()))
    mixed = dict(headers, **{"webhook-signature": forged["webhook-signature"]})
    assert not verify("s3cret", mixed, BODY)


def test_the_recipe_compares_signatures_in_constant_time_only():
    tree = ast.parse(recipe())
    membership = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops)
    ]
    assert membership == [], "a signature compared with `in`: not constant-time"
    assert recipe().count("compare_digest") >= 2
