// Package stats holds the numerical building blocks of data-quality
// monitoring: streaming summaries (Moments, Distinct), a quantile sketch
// (KLL), histograms derived from a sketch, and distance measures between a
// baseline and a current distribution (L-infinity, Kolmogorov–Smirnov,
// chi-square, PSI, Jensen–Shannon, Wasserstein).
//
// The KLL sketch is written here rather than taken from a library because
// Glassbox must read and write the sketch exactly as SageMaker Model Monitor
// stores it in statistics.json: the parameters k and c and the list of
// compactor levels, where an item at level h stands for 2^h values. Sketch
// libraries serialise to their own binary formats, which cannot express that.
//
// The package does no I/O, keeps no global state and imports nothing from the
// rest of the project; it is rank 0 of the import ladder.
package stats
