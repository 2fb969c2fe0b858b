"""Staff tools: accounts (rates, threshold, adjustments with a required reason),
per-agent rates, and the ledger, read-only."""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages

from billing import services
from billing.models import AgentRate, CreditAccount, EntryKind, LedgerEntry
from project.errors import ApiError

EDITABLE = ["rate_per_minute", "low_balance_threshold"]


class CreditAccountForm(forms.ModelForm):
    adjustment = forms.DecimalField(
        required=False,
        max_digits=14,
        decimal_places=4,
        help_text="Signed USD to add (a refund must be positive). Leave empty to change nothing.",
    )
    adjustment_kind = forms.ChoiceField(
        choices=[(EntryKind.ADJUSTMENT, "adjustment"), (EntryKind.REFUND, "refund")],
        required=False,
    )
    adjustment_reason = forms.CharField(
        required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )

    class Meta:
        model = CreditAccount
        fields = EDITABLE

    def clean(self):
        cleaned = super().clean()
        amount = cleaned.get("adjustment")
        if amount is not None:
            if amount == 0:
                self.add_error("adjustment", "An adjustment of zero changes nothing.")
            if not (cleaned.get("adjustment_reason") or "").strip():
                self.add_error("adjustment_reason", "Every adjustment needs a reason.")
            if cleaned.get("adjustment_kind") == EntryKind.REFUND and amount <= 0:
                self.add_error("adjustment", "A refund adds credit: above zero.")
        return cleaned


@admin.register(CreditAccount)
class CreditAccountAdmin(admin.ModelAdmin):
    form = CreditAccountForm
    list_display = [
        "workspace",
        "balance",
        "currency",
        "rate_per_minute",
        "low_balance_threshold",
        "updated_at",
    ]
    search_fields = ["workspace__name", "workspace__slug"]
    list_select_related = ["workspace"]
    readonly_fields = ["workspace", "balance", "currency", "created_at", "updated_at"]
    fields = [
        "workspace",
        "balance",
        "currency",
        *EDITABLE,
        "adjustment",
        "adjustment_kind",
        "adjustment_reason",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request):
        return False  # billing opens accounts

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Only the editable fields: the balance on this form may be stale by now.
        obj.save(update_fields=[*EDITABLE, "updated_at"])
        amount: Decimal | None = form.cleaned_data.get("adjustment")
        if amount is None:
            return
        try:
            entry = services.adjust(
                workspace=obj.workspace,
                amount=amount,
                reason=form.cleaned_data["adjustment_reason"],
                actor=f"staff:{request.user.get_username()}",
                kind=form.cleaned_data.get("adjustment_kind") or EntryKind.ADJUSTMENT,
            )
        except ApiError as error:
            messages.error(request, error.message)
            return
        messages.success(
            request, f"{entry.kind} of {entry.amount} USD posted; balance {entry.balance_after}."
        )


@admin.register(AgentRate)
class AgentRateAdmin(admin.ModelAdmin):
    list_display = ["workspace", "agent_name", "rate_per_minute"]
    search_fields = ["workspace__slug", "agent_name"]
    list_select_related = ["workspace"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "workspace",
        "kind",
        "reason",
        "amount",
        "balance_after",
        "call_id",
        "actor",
    ]
    list_filter = ["kind", "reason", "created_at"]
    search_fields = ["workspace__slug", "call_id", "idempotency_key", "note"]
    list_select_related = ["workspace"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
