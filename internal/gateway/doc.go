// Package gateway is the data plane: an http.Handler that sits in front of
// model servers, routes each request to a variant's upstream with SageMaker
// runtime semantics (or as a transparent pass-through), streams the answer
// back, and hands a copy of sampled exchanges to the capture pipeline.
//
// It sees the capture pipeline only through the Sink interface it declares,
// and never imports a blob store or the config schema.
package gateway
