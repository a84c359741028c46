// Marker only: helm-render is built in GOPATH mode (GO111MODULE=off) from Debian's Go packages,
// with no module download; see CMakeLists.txt.
module iot-telemetry/helm-render

go 1.19
