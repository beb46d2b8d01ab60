"""What the shipped messages are checked with: realistic placeholder values, the GSM-7 set.

Shared by the event-driven and the time-based catalogue tests (no tests of its own).
"""

#: The GSM-7 basic character set: an SMS with anything else is sent as UCS-2 (70 a part).
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)

#: Long but realistic values of every placeholder the templates use.
REALISTIC = {
    "user_name": "Christopher",
    "event_amount": "$12,345.67",
    "debit_multiple": "123.5",
    "transaction_anomaly_reason": "category",
    "spend_day_baseline": "$85.40",
    "credit_utilisation_pct": "100",
    "credit_limit": "$25,000.00",
    "credit_available": "$12,500.00",
    "account_balance": "$12,500.00",
    "savings_milestone_crossed": "100",
    "savings_saved": "$25,000.00",
    "savings_target": "$25,000.00",
    "savings_progress_pct": "100",
    "spend_week": "$1,234.56",
    "spend_week_baseline": "$987.65",
    "spend_week_change_pct": "250",
    "exercise_minutes": "10",
    "job_matches": "125",
    "career_field": "healthcare administration",
    "missing_skills_count": "12",
    "missing_skills_top": "Python, SQL, Kubernetes",
    "salary": "$125,000.00",
    "market_rate": "$150,000.00",
    "salary_gap_pct": "17",
    "app_sessions_week": "42",
    "product": "home insurance",
    "closed_month": "2026-05",
    "income_drop_pct": "40",
    "income_closed_month": "$2,000.00",
    "income_month_baseline": "$3,000.00",
    "deposit_drop_pct": "40",
    "usual_deposit": "$12,345.67",
}
