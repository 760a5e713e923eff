// Package deploy holds the deployment's own files (deploy/nats: the NATS
// cluster configuration) and the tests that check the repository's
// Dockerfile and docker-compose.yml without a Docker engine: against the
// compose specification, against go.mod's versions and against each other.
package deploy
