package redis

// FunctionLibraries returns the names of the function libraries of this build.
func FunctionLibraries() []string {
	out := make([]string, len(functionScripts))
	for i, sc := range functionScripts {
		out[i] = sc.fn
	}
	return out
}
