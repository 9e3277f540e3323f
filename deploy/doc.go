// Package deploy holds the container stack for people who have Docker
// (docker-compose.yml, prometheus.yml, Grafana provisioning and the image
// server dashboard). It has no Go code; its tests validate the stack: the
// compose file loads with the compose-spec loader, promtool accepts the
// Prometheus config, and every dashboard query returns data from a real
// Prometheus fed by hostpush and the image server under load.
package deploy
