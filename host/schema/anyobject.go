package schema

import (
	"bytes"
	"encoding/json"
)

// neutralKeywords are the keywords that cannot make a schema reject an object: the
// annotations, the identifiers, and definitions nothing can refer to (a schema with a
// "$ref" is never read as accepting everything).
var neutralKeywords = map[string]bool{
	"$schema": true, "$id": true, "id": true, "$anchor": true, "$comment": true,
	"title": true, "description": true, "default": true, "examples": true,
	"readOnly": true, "writeOnly": true, "deprecated": true,
	"$defs": true, "definitions": true,
}

// acceptsEveryObject reports whether the schema document doc is satisfied by every JSON
// object: true, {}, or an object of neutralKeywords and a "type" that names "object". It
// is conservative: any other keyword, even one that could not reject an object, makes it
// false, and the validator decides.
func acceptsEveryObject(doc []byte) bool {
	doc = bytes.TrimSpace(doc)
	if string(doc) == "true" {
		return true
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		return false
	}
	for k, v := range m {
		switch {
		case neutralKeywords[k]:
		case k == "type" && namesObject(v):
		default:
			return false
		}
	}
	return true
}

// namesObject reports whether the value of "type" is "object" or a list holding it.
func namesObject(v json.RawMessage) bool {
	var one string
	if json.Unmarshal(v, &one) == nil {
		return one == "object"
	}
	var many []string
	if json.Unmarshal(v, &many) != nil {
		return false
	}
	for _, t := range many {
		if t == "object" {
			return true
		}
	}
	return false
}
