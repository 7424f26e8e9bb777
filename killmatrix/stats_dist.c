/* Distribution functions for the statistics layer: normal, incomplete
 * beta, Student t, noncentral t, Mann-Whitney U. */
#include "mutorch/stats.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#define SQRT1_2 0.70710678118654752440
#define LN_SQRT_PI 0.572364942924700087071713675677 /* log(sqrt(pi)) */
#define SQRT_2_PI 0.797884560802865355879892119869 /* sqrt(2/pi) */

double mt_stats_normal_cdf(double x)
{
	if (isnan(x))
		return NAN;
	return 0.5 * erfc(-x * SQRT1_2);
}

static double normal_pdf(double x)
{
	return 0.398942280401432677939946059934 * exp(-0.5 * x * x);
}

/* Wichura, Algorithm AS 241 (PPND16), Applied Statistics 37 (1988). */
double mt_stats_normal_quantile(double p)
{
	double q, r, val;

	if (isnan(p) || p < 0.0 || p > 1.0)
		return NAN;
	if (p == 0.0)
		return -INFINITY;
	if (p == 1.0)
		return INFINITY;
	q = p - 0.5;
	if (fabs(q) <= 0.425) {
		r = 0.180625 - q * q;
		val = q * (((((((r * 2509.0809287301226727 +
				 33430.575583588128105) * r + 67265.770927008700853) * r +
			       45921.953931549871457) * r + 13731.693765509461125) * r +
			     1971.5909503065514427) * r + 133.14166789178437745) * r +
			   3.387132872796366608) /
		      (((((((r * 5226.495278852545925 +
			     28729.085735721942674) * r + 39307.89580009271061) * r +
			   21213.794301586595867) * r + 5394.1960214247511077) * r +
			 687.1870074920579083) * r + 42.313330701600911252) * r + 1.0);
	} else {
		r = q < 0 ? p : 1.0 - p;
		r = sqrt(-log(r));
		if (r <= 5.0) {
			r -= 1.6;
			val = (((((((r * 7.7454501427834140764e-4 +
				     0.0227238449892691845833) * r + 0.24178072517745061177) *
				   r + 1.27045825245236838258) * r +
				  3.64784832476320460504) * r + 5.7694972214606914055) *
				r + 4.6303378461565452959) * r +
			       1.42343711074968357734) /
			      (((((((r * 1.05075007164441684324e-9 +
				     5.475938084995344946e-4) * r + 0.0151986665636164571966) *
				   r + 0.14810397642748007459) * r +
				  0.68976733498510000455) * r + 1.6763848301838038494) * r +
				2.05319162663775882187) * r + 1.0);
		} else {
			r -= 5.0;
			val = (((((((r * 2.01033439929228813265e-7 +
				     2.71155556874348757815e-5) * r + 0.0012426609473880784386) *
				   r + 0.026532189526576123093) * r +
				  0.29656057182850489123) * r + 1.7848265399172913358) * r +
				5.4637849111641143699) * r + 6.6579046435011037772) /
			      (((((((r * 2.04426310338993978564e-15 +
				     1.4215117583164458887e-7) * r + 1.8463183175100546818e-5) *
				   r + 7.868691311456132591e-4) * r +
				  0.0148753612908506148525) * r + 0.13692988092273580531) *
				r + 0.59983220655588793769) * r + 1.0);
		}
		if (q < 0.0)
			val = -val;
	}
	/* one Newton step: guards the coefficients and costs one erfc */
	if (fabs(val) < 37.0) {
		double tail = val < 0 ? mt_stats_normal_cdf(val) - p
				      : (1.0 - p) - mt_stats_normal_cdf(-val);
		double pdf = normal_pdf(val);
		if (pdf > 0)
			val -= tail / pdf; /* tail = Phi(val) - p either way */
	}
	return val;
}

/* Continued fraction for I_x(a, b) (Numerical Recipes' betacf with the
 * modified Lentz method); converges fast for x < (a + 1) / (a + b + 2). */
static double betacf(double a, double b, double x)
{
	const double tiny = 1e-300, eps = 1e-16;
	double qab = a + b, qap = a + 1.0, qam = a - 1.0;
	double c = 1.0, d = 1.0 - qab * x / qap, h;

	if (fabs(d) < tiny)
		d = tiny;
	d = 1.0 / d;
	h = d;
	for (int m = 1; m <= 100000; m++) {
		int m2 = 2 * m;
		double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
		d = 1.0 + aa * d;
		if (fabs(d) < tiny)
			d = tiny;
		c = 1.0 + aa / c;
		if (fabs(c) < tiny)
			c = tiny;
		d = 1.0 / d;
		h *= d * c;
		aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
		d = 1.0 + aa * d;
		if (fabs(d) < tiny)
			d = tiny;
		c = 1.0 + aa / c;
		if (fabs(c) < tiny)
			c = tiny;
		d = 1.0 / d;
		double del = d * c;
		h *= del;
		if (fabs(del - 1.0) < eps)
			break;
	}
	return h;
}

/* I_x(a, b) given both x and y = 1 - x, so callers that know 1 - x more
 * precisely than 1 - (computed x) keep it. */
static double incbeta2(double x, double y, double a, double b)
{
	double lfront;

	if (x <= 0.0)
		return 0.0;
	if (y <= 0.0)
		return 1.0;
	lfront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(y);
	if (x < (a + 1.0) / (a + b + 2.0))
		return exp(lfront) * betacf(a, b, x) / a;
	return 1.0 - exp(lfront) * betacf(b, a, y) / b;
}

double mt_stats_incbeta(double x, double a, double b)
{
	if (isnan(x) || isnan(a) || isnan(b) || a <= 0 || b <= 0 || x < 0 || x > 1)
		return NAN;
	return incbeta2(x, 1.0 - x, a, b);
}

double mt_stats_t_cdf(double t, double df)
{
	double tail;

	if (isnan(t) || isnan(df) || df <= 0)
		return NAN;
	if (isinf(t))
		return t > 0 ? 1.0 : 0.0;
	if (df > 1e10)
		return mt_stats_normal_cdf(t);
	/* P(|T| > |t|) = I_{df/(df+t^2)}(df/2, 1/2) */
	tail = 0.5 * incbeta2(df / (df + t * t), t * t / (df + t * t), 0.5 * df, 0.5);
	return t > 0 ? 1.0 - tail : tail;
}

static double t_pdf(double t, double df)
{
	return exp(lgamma(0.5 * (df + 1)) - lgamma(0.5 * df) - 0.5 * log(df * M_PI) -
		   0.5 * (df + 1) * log1p(t * t / df));
}

double mt_stats_t_quantile(double p, double df)
{
	double lo, hi, t;

	if (isnan(p) || isnan(df) || df <= 0 || p < 0 || p > 1)
		return NAN;
	if (p == 0)
		return -INFINITY;
	if (p == 1)
		return INFINITY;
	if (p < 0.5)
		return -mt_stats_t_quantile(1.0 - p, df);
	if (p == 0.5)
		return 0.0;
	/* bracket [lo, hi] with cdf(lo) <= p <= cdf(hi), then safeguarded
	 * Newton: a step leaving the bracket becomes a bisection */
	lo = 0.0;
	hi = 1.0;
	while (mt_stats_t_cdf(hi, df) < p && hi < 1e300)
		hi *= 2.0;
	t = mt_stats_normal_quantile(p);
	if (!(t > lo && t < hi))
		t = 0.5 * (lo + hi);
	for (int it = 0; it < 400; it++) {
		double f = mt_stats_t_cdf(t, df) - p;
		if (f == 0)
			return t;
		if (f < 0)
			lo = t;
		else
			hi = t;
		double d = t_pdf(t, df), next = d > 0 ? t - f / d : NAN;
		if (!(next > lo && next < hi))
			next = 0.5 * (lo + hi);
		if (fabs(next - t) <= 1e-15 * fabs(t) || hi - lo <= 1e-15 * hi)
			return next;
		t = next;
	}
	return t;
}

/* Lenth (1989), Algorithm AS 243, as R's pnt.c implements it. */
double mt_stats_nct_cdf(double t, double df, double ncp)
{
	const double errmax = 1e-12;
	const int itrmax = 1000;
	double albeta, a, b, del, errbd, lambda, rxb, tt, x;
	double geven, godd, p, q, s, tnc, xeven, xodd;
	int negdel;

	if (isnan(t) || isnan(df) || isnan(ncp) || df <= 0)
		return NAN;
	if (ncp == 0.0)
		return mt_stats_t_cdf(t, df);
	if (isinf(t))
		return t > 0 ? 1.0 : 0.0;
	if (t >= 0) {
		negdel = 0;
		tt = t;
		del = ncp;
	} else {
		if (ncp > 40)
			return 0.0;
		negdel = 1;
		tt = -t;
		del = -ncp;
	}
	if (df > 4e5 || del * del > 2 * M_LN2 * -(DBL_MIN_EXP)) {
		/* Abramowitz and Stegun 26.7.10 */
		double s1 = 1.0 / (4.0 * df);
		double z = (tt * (1.0 - s1) - del) / sqrt(1.0 + tt * tt * 2.0 * s1);
		double v = mt_stats_normal_cdf(z);
		return negdel ? 1.0 - v : v;
	}
	x = t * t;
	rxb = df / (x + df);
	x = x / (x + df);
	if (x > 0.0) {
		lambda = del * del;
		p = 0.5 * exp(-0.5 * lambda);
		if (p == 0.0)
			return negdel ? 1.0 : 0.0; /* underflow: |del| > 38 */
		q = SQRT_2_PI * p * del;
		s = 0.5 - p;
		if (s < 1e-7)
			s = -0.5 * expm1(-0.5 * lambda);
		a = 0.5;
		b = 0.5 * df;
		rxb = pow(rxb, b);
		albeta = LN_SQRT_PI + lgamma(b) - lgamma(0.5 + b);
		xodd = incbeta2(x, 1.0 - x, a, b);
		godd = 2.0 * rxb * exp(a * log(x) - albeta);
		tnc = b * x;
		xeven = (tnc < DBL_EPSILON) ? tnc : 1.0 - rxb;
		geven = tnc * rxb;
		tnc = p * xodd + q * xeven;
		for (int it = 1; it <= itrmax; it++) {
			a += 1.0;
			xodd -= godd;
			xeven -= geven;
			godd *= x * (a + b - 1.0) / a;
			geven *= x * (a + b - 0.5) / (a + 0.5);
			p *= lambda / (2 * it);
			q *= lambda / (2 * it + 1);
			tnc += p * xodd + q * xeven;
			s -= p;
			if (s < -1e-10)
				break; /* rounding: the series is as good as it gets */
			if (s <= 0 && it > 1)
				break;
			errbd = 2.0 * s * (xodd - godd);
			if (fabs(errbd) < errmax)
				break;
		}
	} else {
		tnc = 0.0;
	}
	tnc += mt_stats_normal_cdf(-del);
	if (tnc > 1.0)
		tnc = 1.0;
	if (tnc < 0.0)
		tnc = 0.0;
	return negdel ? 1.0 - tnc : tnc;
}

/* Counts of U = #{(i, j): x_i > y_j} over all C(n_x + n_y, n_x) rank
 * arrangements: walk the ranks upwards; putting rank j into x when k x's
 * are already placed adds the j - 1 - k y's below it to U. */
double mt_stats_mannwhitney_cdf(double u, size_t n_x, size_t n_y)
{
	size_t umax, N, k;
	double *dp, total = 0.0, below = 0.0;

	if (isnan(u) || n_x < 1 || n_y < 1 || n_x > 100 || n_y > 100)
		return NAN;
	umax = n_x * n_y;
	if (u < 0)
		return 0.0;
	if (u >= (double)umax)
		return 1.0;
	N = n_x + n_y;
	dp = calloc((n_x + 1) * (umax + 1), sizeof(*dp));
	if (!dp)
		return NAN;
	dp[0] = 1.0;
	for (size_t j = 1; j <= N; j++) {
		size_t kmax = j - 1 < n_x ? j - 1 : n_x - 1;
		/* k descending so each arrangement extends once per rank */
		for (k = kmax + 1; k-- > 0;) {
			if (j - 1 < k)
				continue;
			size_t add = j - 1 - k;
			if (add > n_y)
				continue; /* more y's than n_y below: impossible */
			double *from = dp + k * (umax + 1), *to = dp + (k + 1) * (umax + 1);
			for (size_t v = umax - add + 1; v-- > 0;)
				if (from[v] != 0.0)
					to[v + add] += from[v];
		}
	}
	for (size_t v = 0; v <= umax; v++) {
		double c = dp[n_x * (umax + 1) + v];
		total += c;
		if ((double)v <= u)
			below += c;
	}
	free(dp);
	return below / total;
}
