"""Template rendering: per-channel escaping, fallbacks, the SMS limit, the shipped catalogue."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.events import Channel
from streams.core.rendering import (
    MAX_VALUE_LENGTH,
    PLACEHOLDER,
    SMS_LIMIT,
    Catalogue,
    Template,
    default_catalogue,
    fit_sms,
    parse_catalogue,
    plain_text,
    plain_value,
    render,
)
from streams.core.triggers.catalogue import default_definitions
from streams.core.triggers.evaluation import Match
from tests.unit.factories import (
    JUNE,
    fold,
    income_history,
    match_of,
    spike_at,
    spike_history,
    transaction,
)

USER = "user-1"
FALLBACKS = {"user_name": "there"}


def template(body: str, channel: Channel = Channel.SMS, subject: str | None = None) -> Template:
    return Template(
        template_id=f"test.{channel.value}", version=1, channel=channel, subject=subject, body=body
    )


# --- escaping ----------------------------------------------------------------------------


def test_email_html_escapes_markup_and_quotes() -> None:
    rendered = render(
        template("Hi {{text}}!", Channel.EMAIL),
        {"text": "<script>alert(\"x\")</script> & 'co'"},
        FALLBACKS,
    )
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;co&#x27;"
    assert rendered.body == f"Hi {escaped}!"
    # The command records the value itself; escaping belongs to the HTML body only.
    assert rendered.variables == {"text": "<script>alert(\"x\")</script> & 'co'"}


def test_template_markup_itself_is_not_escaped() -> None:
    rendered = render(template("<b>{{x}}</b>", Channel.EMAIL), {"x": "<i>"}, {})
    assert rendered.body == "<b>&lt;i&gt;</b>"


def test_sms_strips_control_characters_newlines_and_markup() -> None:
    rendered = render(
        template("Hi {{user_name}}!"), {"user_name": "\r\nAda\n\x07\x1b[31mLove\x7flace\t"}, {}
    )
    assert rendered.body == "Hi Ada [31mLove lace!"
    assert rendered.variables == {"user_name": "Ada [31mLove lace"}
    assert render(template("{{x}}"), {"x": "<b>&"}, {}).body == "b &"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a\tb\x00c", "a b c"),
        ("a\n\n\nb", "a b"),
        ("  padded  ", "padded"),
        ("a\nb<c>", "a b<c>"),
        ("right\u202eto-left\u2028line\u200bgap\x85", "right to-left line gap"),
        ("x" * (MAX_VALUE_LENGTH + 50), "x" * MAX_VALUE_LENGTH),
    ],
)
def test_plain_value(value: str, expected: str) -> None:
    assert plain_value(value) == expected


@given(st.text(max_size=300))
def test_plain_values_never_hold_control_or_format_characters(value: str) -> None:
    cleaned = plain_value(value)
    assert not any(unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp"} for c in cleaned)
    assert len(cleaned) <= MAX_VALUE_LENGTH


@given(st.text(max_size=100))
def test_email_bodies_never_carry_markup_from_values(value: str) -> None:
    body = render(template("[{{x}}]", Channel.EMAIL), {"x": value}, {}).body
    assert "<" not in body[1:-1] and '"' not in body[1:-1] and "'" not in body[1:-1]


def test_email_subject_is_not_html_escaped() -> None:
    rendered = render(
        template("Hi {{user_name}}", Channel.EMAIL, subject="{{user_name}}, hello"),
        {"user_name": "O'Brien"},
        FALLBACKS,
    )
    assert rendered.subject == "O'Brien, hello"


# --- missing values ----------------------------------------------------------------------


def test_missing_value_uses_the_fallback_then_empty() -> None:
    rendered = render(template("Hi {{user_name}}, {{missing}}!"), {}, FALLBACKS)
    assert rendered.body == "Hi there, !"
    assert rendered.variables == {"user_name": "there", "missing": ""}


def test_empty_value_uses_the_fallback() -> None:
    rendered = render(template("Hi {{ user_name }}"), {"user_name": ""}, FALLBACKS)
    assert rendered.body == "Hi there"


def test_given_value_wins_over_the_fallback() -> None:
    assert render(template("Hi {{user_name}}"), {"user_name": "Ada"}, FALLBACKS).body == "Hi Ada"


@pytest.mark.parametrize("blank", [" ", "\n", "\x00"])
def test_value_that_escapes_to_nothing_uses_the_fallback(blank: str) -> None:
    rendered = render(template("Hi {{user_name}}, hello"), {"user_name": blank}, FALLBACKS)
    assert rendered.body == "Hi there, hello"


# --- no injection ------------------------------------------------------------------------


@pytest.mark.parametrize("channel", [Channel.SMS, Channel.EMAIL, Channel.PUSH])
def test_a_value_cannot_inject_a_placeholder(channel: Channel) -> None:
    rendered = render(
        template("{{user_name}} / {{percentage}}", channel, subject="{{percentage}}"),
        {"user_name": "{{percentage}}", "percentage": "{{user_name}}"},
        FALLBACKS,
    )
    expected = "&#123;&#123;percentage&#125;&#125; / &#123;&#123;user_name&#125;&#125;"
    assert rendered.body == (expected if channel is Channel.EMAIL else "percentage / user_name")
    assert rendered.subject == "user_name"
    assert rendered.variables == {"user_name": "{{percentage}}", "percentage": "{{user_name}}"}


@given(st.text(min_size=1, max_size=100).filter(lambda v: plain_text(plain_value(v))))
def test_a_value_is_substituted_once_neutralised(value: str) -> None:
    rendered = render(template("[{{a}}]", Channel.PUSH), {"a": value}, {"a": "fallback"})
    assert rendered.body == f"[{plain_text(plain_value(value))}]"


# What users may type into a free text, and what each kind of text shows of it. Plain
# text (subjects, SMS, push): braces and angle brackets become spaces. An HTML email body:
# escaped, braces as character references (they read as braces, but are no syntax).
HOSTILE_VALUES = [
    # (value, as plain text, in an email body)
    ("{{7*7}}", "7*7", "&#123;&#123;7*7&#125;&#125;"),
    ("{% for x in y %}", "% for x in y %", "&#123;% for x in y %&#125;"),
    ("${jndi:ldap://evil.example/a}", "$ jndi:ldap://evil.example/a", None),
    ("#{7*7}", "# 7*7", "#&#123;7*7&#125;"),
    ("<%= 7*7 %>", "%= 7*7 %", "&lt;%= 7*7 %&gt;"),
    ("{#comment#}", "#comment#", "&#123;#comment#&#125;"),
    ("*{name} @{url} ~{frag}", "* name @ url ~ frag", None),
    ("<script>alert(1)</script>", "script alert(1) /script", None),
    ("<img src=x onerror=alert(1)>", "img src=x onerror=alert(1)", None),
    ("Ada {{", "Ada", "Ada &#123;&#123;"),
    ("O'Brien & Co", "O'Brien & Co", "O&#x27;Brien &amp; Co"),
    ("Zoë", "Zoë", "Zoë"),
]
TEMPLATE_SYNTAX = ("{{", "}}", "{%", "%}", "${", "#{", "<%", "%>", "{#", "<", ">")


@pytest.mark.parametrize(("value", "as_text", "in_html"), HOSTILE_VALUES)
@pytest.mark.parametrize("channel", [Channel.SMS, Channel.PUSH, Channel.IN_APP])
def test_plain_text_bodies_show_values_without_template_or_markup_syntax(
    channel: Channel, value: str, as_text: str, in_html: str | None
) -> None:
    # ``text`` is no registered variable: no length of its own, only the general cap.
    rendered = render(template("Hi {{text}}!", channel), {"text": value}, FALLBACKS)
    assert rendered.body == f"Hi {' '.join(as_text.split())}!"
    assert not any(token in rendered.body for token in TEMPLATE_SYNTAX)


@pytest.mark.parametrize(("value", "as_text", "in_html"), HOSTILE_VALUES)
def test_email_subjects_are_plain_text_and_bodies_escaped_html(
    value: str, as_text: str, in_html: str | None
) -> None:
    rendered = render(
        template("<p>Hi {{text}}</p>", Channel.EMAIL, subject="For {{text}}"),
        {"text": value},
        FALLBACKS,
    )
    assert rendered.subject == f"For {' '.join(as_text.split())}"
    assert not any(token in (rendered.subject or "") for token in TEMPLATE_SYNTAX)
    inner = rendered.body.removeprefix("<p>Hi ").removesuffix("</p>")
    if in_html is not None:
        assert inner == in_html
    assert not any(token in inner for token in TEMPLATE_SYNTAX)
    assert rendered.variables == {"text": value}


@pytest.mark.parametrize(
    ("name", "shown"),
    [("Maximiliana-Theodora", "Maximiliana-Theodora"), ("Maximiliana-Theodora-Ann", "there")],
)
@pytest.mark.parametrize("channel", list(Channel))
def test_a_value_longer_than_its_variable_allows_shows_the_fallback(
    channel: Channel, name: str, shown: str
) -> None:
    # user_name is registered with 20 characters at most: the SMS length check relies on it.
    rendered = render(template("Hi {{user_name}}", channel), {"user_name": name}, FALLBACKS)
    assert rendered.body == f"Hi {shown}"
    assert rendered.variables == {"user_name": shown}


@pytest.mark.parametrize("value", ["{{}}", "<>", " { } < > ", "}{"])
def test_a_value_that_is_only_syntax_uses_the_fallback(value: str) -> None:
    rendered = render(template("Hi {{user_name}}"), {"user_name": value}, FALLBACKS)
    assert rendered.body == "Hi there"


@given(st.text(max_size=100))
def test_no_value_can_open_template_syntax_in_any_channel(value: str) -> None:
    for channel in (Channel.SMS, Channel.PUSH, Channel.EMAIL):
        rendered = render(
            template("[{{x}}]", channel, subject="[{{x}}]"), {"x": value}, {"x": "fallback"}
        )
        for text in (rendered.body, rendered.subject or ""):
            shown = text[1:-1]
            assert not any(token in shown for token in TEMPLATE_SYNTAX)


# --- the SMS limit -----------------------------------------------------------------------


def test_short_sms_is_only_whitespace_collapsed() -> None:
    assert fit_sms("  Hi   Ada,\n your  week ") == "Hi Ada, your week"
    assert fit_sms("x" * SMS_LIMIT) == "x" * SMS_LIMIT


def test_long_sms_is_cut_at_a_word_boundary_with_an_ellipsis() -> None:
    words = [f"word{i:02d}" for i in range(40)]  # 6 letters + a space each: 279 characters
    text = " ".join(words)
    cut = fit_sms(text)
    assert len(cut) <= SMS_LIMIT
    assert cut.endswith("...")  # GSM-7 dots: "…" would make it a 70-character UCS-2 SMS
    kept = cut[: -len("...")]
    assert text.startswith(kept)
    assert text[len(kept)] == " "  # ends where a word ended
    assert kept.split() == words[: len(kept.split())]
    assert cut == " ".join(words[:22]) + "..."  # 22 words are 153 characters + "..."
    assert cut.isascii()


def test_long_sms_without_spaces_is_cut_hard() -> None:
    assert fit_sms("y" * 500) == "y" * (SMS_LIMIT - 3) + "..."


def test_sms_cut_right_before_a_space_keeps_the_whole_last_word() -> None:
    text = "a" * 157 + " " + "b" * 20  # the 157 characters that fit end on a word
    assert fit_sms(text) == "a" * 157 + "..."


def test_render_applies_the_sms_limit_but_not_to_email() -> None:
    body = "Hi {{user_name}}. " + "Some words here. " * 20
    sms = render(template(body, Channel.SMS), {"user_name": "Ada"}, {})
    email = render(template(body, Channel.EMAIL), {"user_name": "Ada"}, {})
    assert len(sms.body) <= SMS_LIMIT and sms.body.endswith("...")
    assert email.body == body.replace("{{user_name}}", "Ada")


@given(st.text(max_size=600))
def test_fit_sms_is_never_longer_than_the_limit(text: str) -> None:
    fitted = fit_sms(text)
    assert len(fitted) <= SMS_LIMIT
    collapsed = " ".join(text.split())
    if len(collapsed) <= SMS_LIMIT:
        assert fitted == collapsed
    else:
        assert fitted.endswith("...")
        # What is kept is the start of the text, not some other part of it.
        assert collapsed.startswith(fitted.removesuffix("..."))


# --- catalogue ---------------------------------------------------------------------------


def spike_match() -> Match:
    match = match_of(
        "spending_spike", fold(spike_history(USER)), transaction(USER, spike_at(), "400.00")
    )
    assert match is not None
    return match


def income_match() -> Match:
    match = match_of(
        "income_drop", fold(income_history(USER, "0")), transaction(USER, JUNE, "5.00")
    )
    assert match is not None
    return match


def _placeholders(text: str | None) -> set[str]:
    return set(PLACEHOLDER.findall(text or ""))


CHANNELS = [Channel.SMS, Channel.EMAIL, Channel.PUSH]


@pytest.mark.parametrize("message_id", ["spending_spike", "income_drop"])
def test_shipped_catalogue_has_every_channel(message_id: str) -> None:
    catalogue = default_catalogue()
    sms, email, push = (catalogue.get(message_id, channel) for channel in CHANNELS)
    assert sms is not None and email is not None and push is not None
    assert sms.subject is None and sms.body.strip()
    assert email.subject and email.body.strip()
    assert push.subject and push.body.strip()
    assert (sms.template_id, email.template_id) == (f"{message_id}.sms", f"{message_id}.email")
    assert sms.version == email.version == push.version == 2
    assert catalogue.fallbacks["user_name"] == "there"


@pytest.mark.parametrize(
    ("message_id", "build"), [("spending_spike", spike_match), ("income_drop", income_match)]
)
def test_every_placeholder_is_produced_by_the_trigger(
    message_id: str, build: Callable[[], Match]
) -> None:
    match = build()
    produced = set(match.variables) | {"user_name"}
    catalogue = default_catalogue()
    used: set[str] = set()
    for channel in CHANNELS:
        tpl = catalogue.get(message_id, channel)
        assert tpl is not None
        names = _placeholders(tpl.subject) | _placeholders(tpl.body)
        assert names <= produced, (channel, names - produced)
        used |= names
        rendered = render(tpl, {"user_name": "Ada", **match.variables}, catalogue.fallbacks)
        assert "{{" not in (rendered.subject or "") + rendered.body
        assert "Ada" in (rendered.subject or "") + rendered.body or channel is Channel.PUSH
    assert used <= produced


def test_every_shipped_definition_has_its_templates() -> None:
    catalogue = default_catalogue()
    wanted = [(c.template, c.channel) for d in default_definitions() for c in d.channels]
    first_two = {f"{t}.{c}" for t in ("spending_spike", "income_drop") for c in ("sms", "email")}
    assert first_two <= {t for t, _ in wanted}
    assert catalogue.missing(wanted) == []
    assert catalogue.missing([("spending_spike.sms", "email")]) == [
        "spending_spike.sms (for email)"
    ]


def test_parse_catalogue_reads_plain_and_structured_parts() -> None:
    hello = {"version": 3, "sms": "Hi {{user_name}}", "email": {"subject": "S", "body": "B"}}
    catalogue = parse_catalogue(
        {"fallbacks": {"user_name": "friend"}, "templates": {"hello": hello}}
    )
    assert isinstance(catalogue, Catalogue)
    sms = Template("hello.sms", 3, Channel.SMS, None, "Hi {{user_name}}")
    assert catalogue.get("hello", Channel.SMS) == sms
    assert catalogue.get("hello", Channel.EMAIL) == Template(
        "hello.email", 3, Channel.EMAIL, "S", "B"
    )
    assert catalogue.get("hello", Channel.PUSH) is None
    assert catalogue.fallbacks == {"user_name": "friend"}


def test_default_catalogue_is_read_once() -> None:
    assert default_catalogue() is default_catalogue()
