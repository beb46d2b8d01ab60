"""Experiment statistics: sample size, lifts with intervals and p-values, the sample-ratio check.

Pure functions over plain counts (``ArmCounts``: users exposed in an arm and how many of
them converted); the experiment report reads the counts and calls them.

**Fixed horizon** (``compare(..., sequential=False)``): a two-sided two-proportion
z-test of each treatment against the control. With rates ``p_a = c_a / n_a`` (control)
and ``p_b = c_b / n_b``, the p-value uses the pooled standard error (the one that holds
under the null hypothesis ``p_a == p_b``)::

    p = (c_a + c_b) / (n_a + n_b),  z = (p_b - p_a) / sqrt(p (1 - p) (1/n_a + 1/n_b))
    p_value = 2 (1 - Phi(|z|))

and the interval on the difference the unpooled (Wald) one,
``(p_b - p_a) ± z_{1-α/2} sqrt(V)`` with ``V = p_a (1 - p_a) / n_a + p_b (1 - p_b) / n_b``.
The relative lift's interval is the delta method on ``log(p_b / p_a)``, whose variance is
``(1 - p_b) / c_b + (1 - p_a) / c_a``, mapped back by ``exp(·) - 1``. These p-values are
valid at one look at a sample size fixed in advance: looking every day and stopping at
the first ``p < α`` rejects a true null far more often than ``α`` (Johari et al. 2017).

**Sequential** (``sequential=True``): the mixture sequential probability ratio test
(mSPRT) with a normal mixture, as Optimizely's Stats Engine uses it (Johari, Pekelis and
Walsh). With ``θ`` the observed difference, ``V`` the variance of ``θ`` and the mixing
variance ``τ² = minimum_detectable_effect²``::

    Λ(V) = sqrt(V / (V + τ²)) exp(θ² τ² / (2 V (V + τ²))),  p_value = min(1, 1 / Λ(V0))
    confidence sequence: θ ± sqrt(V1 (V1 + τ²) / τ² (2 ln(1/α) + ln((V1 + τ²) / V1)))

Under the null, ``Λ`` is a non-negative martingale with mean 1 (Robbins 1970), so by
Ville's inequality ``P(there is an n with p_n <= α) <= α``: a p-value computed at each
look is valid at any stopping time, however often one looks and whenever one stops.
Report the running minimum of the p-values, or stop at the first ``p_n <= α``; both keep
the guarantee. The price is power: at the same sample size a fixed test finds more. Why
this test: a report that is read daily is peeked at, and only an always-valid test stays
honest then.

Which ``V``: the guarantee assumes ``V`` known; here it is estimated from the counts so
far (a normal approximation that is asymptotic in the counts). The plain plug-in,
``p_a (1 - p_a) / n_a + p_b (1 - p_b) / n_b``, collapses when a small arm has no
conversions yet, and with unequal arms (a 10 % control group, say) that broke the
guarantee: about 30 % of simulated 90/10 A/A experiments at 5 % (30 daily looks) rejected
at some look, whichever arm was the small one, and 54 % at 95/5. So, like the fixed test,
the p-value uses the variance under the null, the pooled
``V0 = p (1 - p) (1/n_a + 1/n_b)`` (2 to 3 % in the same simulations), and the sequence
``V1 = max(V0, V)``: the pooled variance alone let it miss a real difference (5 % against
8 %, 90/10) at some look in 6 % of runs, the maximum in under 2 %. With equal arms the
three barely differ. Since
the half-width grows with ``V`` (for ``α < 0.6``), zero outside the sequence implies
``p_value <= α``; near the boundary a lift can be significant with zero just inside.
The relative sequence is the absolute one divided by the control's rate, treating that
rate as known: an approximation that ignores the control rate's own uncertainty.

**Several treatments**: Holm's step-down on the p-values (``adjusted_p_value``; equal
to ``p_value`` with one treatment), which controls the family-wise error rate at ``α``;
intervals are Bonferroni's, each at ``α / m`` for ``m`` treatments (Holm has no
matching intervals). A lift is ``significant`` when its adjusted p-value is below ``α``.

**Sample size** (``required_sample_size``): users per arm for the fixed two-sided test,
normal approximation without continuity correction (Fleiss, Levin and Paik, ch. 4)::

    n = ceil((z_{1-α/2} sqrt(2 p̄ (1 - p̄)) + z_{power} sqrt(p1 (1 - p1) + p2 (1 - p2)))² / mde²)

with ``p2 = p1 + mde`` and ``p̄ = (p1 + p2) / 2``.

**Sample-ratio mismatch** (``sample_ratio_mismatch``): Pearson's chi-square goodness of
fit of the exposed counts against the arms' allocation weights; ``p < 0.001`` means the
assignment or the logging is broken and no lift should be trusted (Fabijan et al. 2019).

Zero data never raises: an arm with nobody exposed has rate 0 and gives p-value 1 and an
interval over the whole range of a difference, ``(-1, 1)``; so does a zero variance in
the sequential test (both arms all 0 or all 1: no information yet), while the fixed test
gives p-value 1 and the point interval there.

References:
    R. Johari, L. Pekelis, D. Walsh. Always Valid Inference: Continuous Monitoring of
    A/B Tests. Operations Research 70(3), 2022 (arXiv:1512.04922).
    R. Johari, P. Koomen, L. Pekelis, D. Walsh. Peeking at A/B Tests: Why it matters,
    and what to do about it. KDD 2017.
    H. Robbins. Statistical methods related to the law of the iterated logarithm.
    Annals of Mathematical Statistics 41(5), 1970.
    S. Holm. A simple sequentially rejective multiple test procedure. Scandinavian
    Journal of Statistics 6(2), 1979.
    J. L. Fleiss, B. Levin, M. C. Paik. Statistical Methods for Rates and Proportions,
    3rd ed., Wiley 2003.
    A. Fabijan et al. Diagnosing Sample Ratio Mismatch in Online Controlled
    Experiments. KDD 2019.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from scipy.stats import chisquare, norm

#: The interval when an arm has nobody exposed: a difference of two rates lies in it.
_WHOLE_RANGE = (-1.0, 1.0)


@dataclass(frozen=True, slots=True)
class ArmCounts:
    """What one arm of an experiment has seen for one metric.

    Attributes:
        variant: The arm's id.
        exposed: Users assigned to (exposed in) the arm; at least 0.
        converted: Of them, users with a conversion of the metric; 0 to ``exposed``.
        value: The conversions' summed value (currency units); not tested, reported.
        control: Whether this is the control arm (exactly one per comparison).
        weight: The arm's allocation weight (any positive scale), for the ratio check.
    """

    variant: str
    exposed: int
    converted: int
    value: float = 0.0
    control: bool = False
    weight: float = 1.0

    def __post_init__(self) -> None:
        if self.exposed < 0 or not 0 <= self.converted <= self.exposed:
            msg = (
                f"arm {self.variant!r}: need 0 <= converted <= exposed, "
                f"got converted={self.converted}, exposed={self.exposed}"
            )
            raise ValueError(msg)
        if not self.weight > 0:
            msg = f"arm {self.variant!r}: weight must be positive, got {self.weight}"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class Lift:
    """One treatment against the control on one metric.

    Attributes:
        variant: The treatment arm's id.
        control: The control arm's id.
        rate: The treatment's conversion rate (0 when nobody is exposed).
        control_rate: The control's conversion rate.
        absolute: ``rate - control_rate``.
        absolute_ci: Interval on ``absolute`` at ``1 - alpha / m`` (``m`` treatments):
            Wald's (fixed) or the confidence sequence (sequential).
        relative: ``absolute / control_rate``; None when the control rate is 0 or the
            treatment has nobody exposed.
        relative_ci: Interval on ``relative`` at the same level; None when
            ``relative`` is.
        p_value: Two-sided p-value (fixed) or always-valid p-value (sequential).
        adjusted_p_value: Holm-adjusted over the treatments.
        significant: ``adjusted_p_value < alpha``.
        method: ``"fixed"`` or ``"sequential"``.
    """

    variant: str
    control: str
    rate: float
    control_rate: float
    absolute: float
    absolute_ci: tuple[float, float]
    relative: float | None
    relative_ci: tuple[float, float] | None
    p_value: float
    adjusted_p_value: float
    significant: bool
    method: Literal["fixed", "sequential"]


@dataclass(frozen=True, slots=True)
class SampleRatio:
    """Whether the arms got the share of users their weights ask for.

    Attributes:
        chi2: Pearson's chi-square statistic (0 when nobody is exposed).
        p_value: Its p-value with ``arms - 1`` degrees of freedom.
        mismatch: ``p_value < threshold``.
        expected: Each variant's expected share of the exposed users (sums to 1).
    """

    chi2: float
    p_value: float
    mismatch: bool
    expected: dict[str, float]


@dataclass(frozen=True, slots=True)
class _Test:
    """One treatment's raw p-value and intervals, before the correction across arms."""

    p_value: float
    absolute_ci: tuple[float, float]
    relative_ci: tuple[float, float] | None


def required_sample_size(
    baseline_rate: float,
    minimum_detectable_effect: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
) -> int:
    """Return the users needed per arm to detect an absolute lift with the fixed test.

    Args:
        baseline_rate: The control's expected conversion rate, in (0, 1).
        minimum_detectable_effect: The absolute lift to detect (0.05 = 5 points), > 0,
            with ``baseline_rate + minimum_detectable_effect < 1``.
        alpha: Two-sided significance level, in (0, 1); default 0.05.
        power: Probability of detecting the lift when it is real, in (0, 1); default 0.8.

    Returns:
        Users per arm (the formula in the module docstring, rounded up).

    Raises:
        ValueError: An input outside its range.
    """
    p1, mde = baseline_rate, minimum_detectable_effect
    p2 = p1 + mde
    if not 0 < p1 < 1:
        msg = f"baseline_rate must be in (0, 1), got {baseline_rate}"
        raise ValueError(msg)
    if not mde > 0 or not p2 < 1:
        msg = (
            f"minimum_detectable_effect must be > 0 with baseline_rate + effect < 1, "
            f"got {baseline_rate} + {minimum_detectable_effect}"
        )
        raise ValueError(msg)
    _check_probability("alpha", alpha)
    _check_probability("power", power)
    pbar = (p1 + p2) / 2
    z_alpha = float(norm.isf(alpha / 2))
    z_power = float(norm.ppf(power))
    root_n = z_alpha * math.sqrt(2 * pbar * (1 - pbar)) + z_power * math.sqrt(
        p1 * (1 - p1) + p2 * (1 - p2)
    )
    return math.ceil(root_n**2 / mde**2)


def compare(
    arms: Sequence[ArmCounts],
    *,
    alpha: float = 0.05,
    sequential: bool = False,
    minimum_detectable_effect: float = 0.05,
) -> list[Lift]:
    """Compare every treatment with the control.

    Args:
        arms: The arms, exactly one of them the control.
        alpha: Family-wise significance level, in (0, 1); default 0.05.
        sequential: Use the always-valid mSPRT (safe to look at any time) instead of the
            fixed-horizon z-test.
        minimum_detectable_effect: The sequential test's mixing scale ``τ`` (absolute
            rate difference, > 0; ``τ² = mde²``): it has the most power near this lift.
            Unused by the fixed test. Default 0.05.

    Returns:
        One ``Lift`` per treatment, in the order of ``arms``.

    Raises:
        ValueError: Not exactly one control arm, or ``alpha`` or the effect out of range.
    """
    _check_probability("alpha", alpha)
    if not minimum_detectable_effect > 0:
        msg = f"minimum_detectable_effect must be > 0, got {minimum_detectable_effect}"
        raise ValueError(msg)
    controls = [arm for arm in arms if arm.control]
    if len(controls) != 1:
        msg = f"need exactly one control arm, got {len(controls)}"
        raise ValueError(msg)
    control = controls[0]
    treatments = [arm for arm in arms if not arm.control]
    interval_alpha = alpha / max(len(treatments), 1)
    tests = [
        _test(control, arm, interval_alpha, sequential, minimum_detectable_effect**2)
        for arm in treatments
    ]
    adjusted = _holm([test.p_value for test in tests])
    method: Literal["fixed", "sequential"] = "sequential" if sequential else "fixed"
    return [
        _lift(control, arm, test, adjusted_p, alpha=alpha, method=method)
        for arm, test, adjusted_p in zip(treatments, tests, adjusted, strict=True)
    ]


def sample_ratio_mismatch(arms: Sequence[ArmCounts], *, threshold: float = 0.001) -> SampleRatio:
    """Test the exposed counts against the allocation weights (chi-square goodness of fit).

    Args:
        arms: The arms with their exposed counts and weights.
        threshold: P-value below which the split is a mismatch; default 0.001.

    Returns:
        The statistic, its p-value, the verdict and each variant's expected share. With
        fewer than two arms or nobody exposed: chi2 0, p-value 1, no mismatch.
    """
    total_weight = sum(arm.weight for arm in arms)
    expected = {arm.variant: arm.weight / total_weight for arm in arms}
    exposed = sum(arm.exposed for arm in arms)
    if len(arms) < 2 or exposed == 0:
        return SampleRatio(chi2=0.0, p_value=1.0, mismatch=False, expected=expected)
    result = chisquare(
        [arm.exposed for arm in arms],
        f_exp=[arm.weight / total_weight * exposed for arm in arms],
    )
    p_value = float(result.pvalue)
    return SampleRatio(
        chi2=float(result.statistic),
        p_value=p_value,
        mismatch=p_value < threshold,
        expected=expected,
    )


def enough_data(arms: Sequence[ArmCounts], required_per_arm: int) -> bool:
    """Return whether every arm has at least ``required_per_arm`` users exposed (no arms: no)."""
    return bool(arms) and all(arm.exposed >= required_per_arm for arm in arms)


def _check_probability(name: str, value: float) -> None:
    if not 0 < value < 1:
        msg = f"{name} must be in (0, 1), got {value}"
        raise ValueError(msg)


def _rate(arm: ArmCounts) -> float:
    return arm.converted / arm.exposed if arm.exposed else 0.0


def _variance(control: ArmCounts, arm: ArmCounts) -> float:
    """Return the unpooled variance of the difference of the two rates (both exposed)."""
    p_a, p_b = _rate(control), _rate(arm)
    return p_a * (1 - p_a) / control.exposed + p_b * (1 - p_b) / arm.exposed


def _pooled_variance(control: ArmCounts, arm: ArmCounts) -> float:
    """Return the difference's variance if both arms converted alike (both exposed)."""
    pooled = (control.converted + arm.converted) / (control.exposed + arm.exposed)
    return pooled * (1 - pooled) * (1 / control.exposed + 1 / arm.exposed)


@functools.lru_cache(maxsize=32)
def _critical_value(alpha: float) -> float:
    """Return ``z_{1-alpha/2}``; cached, as a report asks the same few levels again."""
    return float(norm.isf(alpha / 2))


def _test(control: ArmCounts, arm: ArmCounts, alpha: float, sequential: bool, tau2: float) -> _Test:
    """Return one treatment's raw p-value and intervals at level ``1 - alpha``."""
    if control.exposed == 0 or arm.exposed == 0:
        return _Test(p_value=1.0, absolute_ci=_WHOLE_RANGE, relative_ci=None)
    if sequential:
        return _sequential_test(control, arm, alpha, tau2)
    return _fixed_test(control, arm, alpha)


def _fixed_test(control: ArmCounts, arm: ArmCounts, alpha: float) -> _Test:
    difference = _rate(arm) - _rate(control)
    pooled_se = math.sqrt(_pooled_variance(control, arm))
    # Both arms all-zero or all-one: no difference and no spread, nothing against the null.
    p_value = 2 * float(norm.sf(abs(difference) / pooled_se)) if pooled_se > 0 else 1.0
    z = _critical_value(alpha)
    half = z * math.sqrt(_variance(control, arm))
    absolute_ci = (difference - half, difference + half)
    return _Test(p_value, absolute_ci, _log_ratio_interval(control, arm, z, absolute_ci))


def _log_ratio_interval(
    control: ArmCounts, arm: ArmCounts, z: float, absolute_ci: tuple[float, float]
) -> tuple[float, float] | None:
    """Return the relative lift's interval by the delta method on ``log(rate / control)``.

    Without conversions in the treatment the logarithm is undefined; the absolute interval
    divided by the control's rate stands in (as in the sequential test).
    """
    if control.converted == 0:
        return None
    if arm.converted == 0:
        return _divided(absolute_ci, _rate(control))
    p_a, p_b = _rate(control), _rate(arm)
    log_ratio = math.log(p_b / p_a)
    half = z * math.sqrt((1 - p_b) / arm.converted + (1 - p_a) / control.converted)
    return (math.exp(log_ratio - half) - 1, math.exp(log_ratio + half) - 1)


def _sequential_test(control: ArmCounts, arm: ArmCounts, alpha: float, tau2: float) -> _Test:
    null_variance = _pooled_variance(control, arm)
    control_rate = _rate(control)
    if null_variance == 0:
        # Both arms all 0 or all 1 so far: the variance carries no information yet.
        relative = _divided(_WHOLE_RANGE, control_rate) if control_rate > 0 else None
        return _Test(p_value=1.0, absolute_ci=_WHOLE_RANGE, relative_ci=relative)
    theta = _rate(arm) - control_rate
    log_lambda = 0.5 * math.log(null_variance / (null_variance + tau2)) + theta**2 * tau2 / (
        2 * null_variance * (null_variance + tau2)
    )
    # In logs: at 100,000 users an arm and a 5-point lift, Λ itself overflows a float.
    p_value = math.exp(-log_lambda) if log_lambda > 0 else 1.0
    # Never narrower than the null's variance: the plug-in alone collapses in a small arm.
    variance = max(null_variance, _variance(control, arm))
    half = math.sqrt(
        variance
        * (variance + tau2)
        / tau2
        * (2 * math.log(1 / alpha) + math.log((variance + tau2) / variance))
    )
    absolute_ci = (theta - half, theta + half)
    relative = _divided(absolute_ci, control_rate) if control_rate > 0 else None
    return _Test(p_value, absolute_ci, relative)


def _divided(interval: tuple[float, float], by: float) -> tuple[float, float]:
    return (interval[0] / by, interval[1] / by)


def _holm(p_values: Sequence[float]) -> list[float]:
    """Return Holm's step-down adjusted p-values, in the input order."""
    m = len(p_values)
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        # Monotone: a larger raw p-value never gets a smaller adjusted one.
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def _lift(
    control: ArmCounts,
    arm: ArmCounts,
    test: _Test,
    adjusted_p_value: float,
    *,
    alpha: float,
    method: Literal["fixed", "sequential"],
) -> Lift:
    rate, control_rate = _rate(arm), _rate(control)
    absolute = rate - control_rate
    defined = control_rate > 0 and arm.exposed > 0
    return Lift(
        variant=arm.variant,
        control=control.variant,
        rate=rate,
        control_rate=control_rate,
        absolute=absolute,
        absolute_ci=test.absolute_ci,
        relative=absolute / control_rate if defined else None,
        relative_ci=test.relative_ci if defined else None,
        p_value=test.p_value,
        adjusted_p_value=adjusted_p_value,
        significant=adjusted_p_value < alpha,
        method=method,
    )
