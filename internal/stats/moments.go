package stats

import "math"

// Moments accumulates count, sum, mean, population standard deviation,
// minimum and maximum of a stream of values in one pass. The mean and the sum
// of squared deviations are updated with Welford's method, so values with a
// large common offset do not lose precision; the sum is compensated
// (Neumaier). Two partial results combine exactly with Merge (Chan, Golub and
// LeVeque's pairwise formula).
//
// The zero value is an empty accumulator ready to use. NaN values are
// ignored. A Moments is not safe for concurrent use.
type Moments struct {
	n    int64
	mean float64
	m2   float64 // sum of squared deviations from the mean
	sum  float64
	comp float64 // running compensation for sum
	min  float64
	max  float64
}

// Add includes x. NaN is ignored.
func (m *Moments) Add(x float64) {
	if x != x { // NaN
		return
	}
	m.n++
	if m.n == 1 {
		m.mean, m.m2, m.min, m.max = x, 0, x, x
		m.sum, m.comp = x, 0
		return
	}
	d := x - m.mean
	m.mean += d / float64(m.n)
	m.m2 += d * (x - m.mean)
	m.addSum(x)
	if x < m.min {
		m.min = x
	}
	if x > m.max {
		m.max = x
	}
}

// addSum adds x to the compensated sum.
func (m *Moments) addSum(x float64) {
	t := m.sum + x
	if math.Abs(m.sum) >= math.Abs(x) {
		m.comp += (m.sum - t) + x
	} else {
		m.comp += (x - t) + m.sum
	}
	m.sum = t
}

// Merge adds the values summarised by o to m. o is not modified.
func (m *Moments) Merge(o *Moments) {
	if o == nil || o.n == 0 {
		return
	}
	if m.n == 0 {
		*m = *o
		return
	}
	na, nb := float64(m.n), float64(o.n)
	n := na + nb
	d := o.mean - m.mean
	m.mean += d * nb / n
	m.m2 += o.m2 + d*d*na*nb/n
	m.n += o.n
	m.addSum(o.sum)
	m.comp += o.comp
	m.min = min(m.min, o.min)
	m.max = max(m.max, o.max)
}

// Count returns the number of values added.
func (m *Moments) Count() int64 { return m.n }

// Sum returns the sum of the values, 0 when there are none.
func (m *Moments) Sum() float64 { return m.sum + m.comp }

// Mean returns the arithmetic mean, or NaN when there are no values. It is
// the compensated sum divided by the count, which is more accurate than the
// running Welford mean (that one only feeds the variance).
func (m *Moments) Mean() float64 {
	if m.n == 0 {
		return math.NaN()
	}
	return m.Sum() / float64(m.n)
}

// StdDevPop returns the population standard deviation (dividing by the count,
// not count-1, as Deequ's StandardDeviation does), or NaN when there are no
// values.
func (m *Moments) StdDevPop() float64 {
	if m.n == 0 {
		return math.NaN()
	}
	return math.Sqrt(max(m.m2, 0) / float64(m.n))
}

// Min returns the smallest value, or NaN when there are no values.
func (m *Moments) Min() float64 {
	if m.n == 0 {
		return math.NaN()
	}
	return m.min
}

// Max returns the largest value, or NaN when there are no values.
func (m *Moments) Max() float64 {
	if m.n == 0 {
		return math.NaN()
	}
	return m.max
}
