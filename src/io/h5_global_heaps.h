#pragma once
// A check of an HDF5 file's bytes that libhdf5 1.10 does not make itself.
//
// Variable-length strings (our attributes and /config) live in "global heap collections"
// (signature "GCOL"). When libhdf5 1.10 loads a collection it walks the objects in it by
// their stored sizes and never checks that a size moves the walk forward: a damaged size
// field (or a collection that runs past the end of the file, which it reads as zeros)
// makes it loop forever, and a size running past the collection makes it read out of
// bounds. H5Reader calls this before reading any string, so such a file is an error
// instead of a hang.
#include <string>

namespace poslab {

// Throws ConfigError "<path>: global heap collection at byte N: ...; expected an intact
// HDF5 file" if a collection's object walk would not advance or would leave the
// collection. Other bytes are not examined (libhdf5 checks those).
void check_global_heaps(const std::string& path);

}  // namespace poslab
