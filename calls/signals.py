"""What calls tells other apps, inside the transaction that makes the change.
Billing listens; calls imports no app that does.

- `call_admission(sender, workspace, direction)`: sent by `call_create` before
  the call is written. A receiver refuses the call by raising an `ApiError`
  (billing: 402 `insufficient_balance`).
- `calls_ended(sender, workspace, calls)`: sent after calls reached a terminal
  status and their events were recorded, in the same transaction (billing
  settles their charges against `cost`).
"""

from django.dispatch import Signal

call_admission = Signal()
calls_ended = Signal()
