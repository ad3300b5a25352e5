package api

import (
	"errors"
	"net/http"
	"sort"
)

func sortStrings(s []string) { sort.Strings(s) }

func asMaxBytes(err error, target **http.MaxBytesError) bool { return errors.As(err, target) }
