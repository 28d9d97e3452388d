// Package endpoints owns endpoints as data: the stored record of an
// endpoint's declaration, the store it lives in, the policies an endpoint
// must meet, and the diff that 'glassbox apply' prints.
//
// It is a domain package: it reads the endpoint schema from config (rank
// 1) and declares the Store the metadata store implements.
package endpoints

import (
	"context"
	"errors"
	"time"
)

// ErrVersionConflict is wrapped when a change names a version that is no
// longer current (someone else changed the endpoint first).
var ErrVersionConflict = errors.New("endpoint changed since it was read")

// Record is one endpoint as stored.
type Record struct {
	Name string `json:"name"`
	// Spec is the endpoint's declaration as YAML, exactly the element of
	// the config file's endpoints list.
	Spec []byte `json:"-"`
	// Tags are copied out of Spec so that authorization can select
	// endpoints by tag without parsing.
	Tags map[string]string `json:"tags,omitempty"`
	// Version starts at 1 and grows with every change of this endpoint.
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
	// Source is "config" for endpoints loaded from the YAML file and "api"
	// for endpoints created or changed through the API.
	Source string `json:"source"`
}

// Store is what endpoints need from the metadata store. Implementations
// must be safe for concurrent use by several processes sharing one
// database.
type Store interface {
	// PutEndpoint creates or replaces an endpoint. With expectVersion > 0
	// the change applies only if the stored version is still that one
	// (else an error wrapping ErrVersionConflict); 0 means unconditional.
	// It returns the stored record with its new Version.
	PutEndpoint(ctx context.Context, r Record, expectVersion int64) (Record, error)
	// DeleteEndpoint removes an endpoint; an error with code ENotFound
	// when there is none.
	DeleteEndpoint(ctx context.Context, name string) error
	// Endpoint returns one endpoint; an error with code ENotFound when
	// there is none.
	Endpoint(ctx context.Context, name string) (Record, error)
	// ListEndpoints returns every endpoint, sorted by name.
	ListEndpoints(ctx context.Context) ([]Record, error)
	// EndpointsRevision returns a number that changes whenever any endpoint
	// is created, changed or deleted, by any process: gateways poll it to
	// pick up changes made elsewhere.
	EndpointsRevision(ctx context.Context) (int64, error)
}
