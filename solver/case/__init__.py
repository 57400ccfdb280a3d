"""Case files: the schema (what a case may say, with units and allowed ranges), bounded
YAML loading and unit parsing. Nothing here builds a mesh or solves: every other
package depends on this one, and it depends on none of them."""
