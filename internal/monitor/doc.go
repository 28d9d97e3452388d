// Package monitor analyses captured inference data the way SageMaker Model
// Monitor's data-quality job does, in one streaming pass with mergeable
// sketches: it profiles a training data set into a baseline
// (statistics.json and constraints.json in Model Monitor's schema), profiles
// the captured records of a time window the same way, and compares the two
// into constraint_violations.json plus Glassbox's own drift report.
//
// The package does no HTTP and knows no storage engine: it reads capture
// objects and writes reports through objstore.Bucket, and its schedules
// persist through the narrow interfaces it declares.
package monitor
