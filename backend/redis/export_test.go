package redis

// FunctionLibraries returns the names of the function libraries of this build.
func FunctionLibraries() []string {
	out := make([]string, len(functionScripts))
	for i, sc := range functionScripts {
		out[i] = sc.fn
	}
	return out
}

// LanePriority is the priority of the jobs a queue's lane holds (lane.go).
const LanePriority = lanePriority
