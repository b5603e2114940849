"""The sandbox editor (a demo procurement platform); run `python -m
passemarche_client.sandbox_editor --help`. Needs the `sandbox` extra (Flask)."""

from passemarche_client.sandbox_editor.app import (
    EditorSettings,
    EditorState,
    ReceivedWebhook,
    create_app,
    wait_for_webhook,
)

__all__ = ["EditorSettings", "EditorState", "ReceivedWebhook", "create_app", "wait_for_webhook"]
