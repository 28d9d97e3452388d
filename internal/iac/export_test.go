package iac

// PlanJSON exposes planJSON to the external tests.
var PlanJSON = planJSON
