#include "spotlight/safetensors.h"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "spotlight/atomic_file.h"
#include "spotlight/check.h"
#include "spotlight/json.h"

namespace spotlight {

static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes little endian");

void write_safetensors(const std::string& path, const TensorRefs& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  size_t offset = 0;
  for (const auto& [name, t] : tensors) {
    require(!header.contains(name), path + ": duplicate tensor name '" + name + "'");
    const size_t bytes = static_cast<size_t>(t->size()) * sizeof(float);
    header[name] = {
        {"dtype", "F32"}, {"shape", t->shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');
  const uint64_t n = h.size();

  AtomicFile f(path);
  f.write(&n, 8);
  f.write(h);
  for (const auto& [name, t] : tensors) f.write(t->data(), sizeof(float) * static_cast<size_t>(t->size()));
  f.commit();
}

std::map<std::string, Tensor> read_safetensors(const std::string& path,
                                               std::map<std::string, std::string>* metadata) {
  std::ifstream in(path, std::ios::binary);
  require(in.good(), "cannot open " + path);
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  uint64_t n = 0;
  require(file_size >= 8 && in.read(reinterpret_cast<char*>(&n), 8).good(),
          path + ": truncated safetensors file (no header length)");
  require(n <= file_size - 8, path + ": corrupt safetensors file (header length " +
                                  std::to_string(n) + " exceeds the file size " +
                                  std::to_string(file_size) + ")");
  std::string h(n, '\0');
  require(in.read(h.data(), static_cast<std::streamsize>(n)).good(),
          path + ": truncated safetensors header");
  const nlohmann::json header = parse_json(h, path + ": corrupt safetensors header");
  require(header.is_object(), path + ": corrupt safetensors header (not a JSON object)");
  const uint64_t data_size = file_size - 8 - n;
  struct Entry {
    std::string name;
    std::vector<long> shape;
    uint64_t begin, end;
  };
  std::vector<Entry> entries;
  auto unsigned_int = [](const nlohmann::json& v) { return v.is_number_unsigned(); };
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      require(info.is_object(), path + ": corrupt safetensors header (__metadata__ must be an "
                                       "object of strings)");
      for (const auto& [k, v] : info.items()) {
        require(v.is_string(), path + ": corrupt safetensors header (__metadata__ must be an "
                                      "object of strings)");
        if (metadata != nullptr) (*metadata)[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string where = path + ": tensor '" + name + "'";
    require(info.is_object(), where + ": malformed header entry (not an object)");
    const auto dtype = info.find("dtype");
    require(dtype != info.end() && dtype->is_string() && *dtype == "F32",
            where + " is not float32 (dtype " + (dtype != info.end() ? dtype->dump() : "missing") +
                "); only F32 is supported");
    const auto shp = info.find("shape");
    const auto offs = info.find("data_offsets");
    require(shp != info.end() && shp->is_array() && shp->size() <= 4 && offs != info.end() &&
                offs->is_array() && offs->size() == 2 &&
                std::all_of(shp->begin(), shp->end(), unsigned_int) &&
                std::all_of(offs->begin(), offs->end(), unsigned_int),
            where + ": malformed header entry (shape must be up to 4 unsigned integers, "
                    "data_offsets 2)");
    // The element count may not exceed what the data section could hold, checked per factor so
    // that a lying shape can neither overflow nor size an allocation.
    const uint64_t max_count = data_size / sizeof(float);
    std::vector<long> shape;
    uint64_t count = 1;
    for (const auto& d : *shp) {
      const auto dim = d.get<uint64_t>();
      require(dim <= max_count && (dim == 0 || count <= max_count / dim),
              where + ": shape " + shp->dump() + " holds more elements than the file's " +
                  std::to_string(data_size) + " data bytes");
      count *= dim;
      shape.push_back(static_cast<long>(dim));
    }
    const auto b = (*offs)[0].get<uint64_t>();
    const auto e = (*offs)[1].get<uint64_t>();
    require(b <= e && e <= data_size,
            where + ": data offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                ") lie outside the " + std::to_string(data_size) + " data bytes (file truncated?)");
    require(e - b == count * sizeof(float), where + ": data size does not match its shape");
    entries.push_back({name, std::move(shape), b, e});
  }
  // Everything is checked before any tensor is allocated: no overlapping data either, so the
  // tensors together never take more memory than the file's data section.
  std::sort(entries.begin(), entries.end(),
            [](const Entry& x, const Entry& y) {
              return x.begin != y.begin ? x.begin < y.begin : x.end < y.end;
            });
  for (size_t i = 1; i < entries.size(); ++i)
    require(entries[i].begin >= entries[i - 1].end, path + ": overlapping tensor data");
  std::map<std::string, Tensor> out;
  for (const Entry& en : entries) {
    const std::vector<long>& shape = en.shape;
    Tensor t;
    switch (shape.size()) {
      case 0:
        t.resize({});
        break;
      case 1:
        t.resize({shape[0]});
        break;
      case 2:
        t.resize({shape[0], shape[1]});
        break;
      case 3:
        t.resize({shape[0], shape[1], shape[2]});
        break;
      default:
        t.resize({shape[0], shape[1], shape[2], shape[3]});
        break;
    }
    in.seekg(static_cast<std::streamoff>(8 + n + en.begin));
    require(in.read(reinterpret_cast<char*>(t.data()),
                    static_cast<std::streamsize>(en.end - en.begin))
                .good(),
            path + ": tensor '" + en.name + "': truncated data");
    out.emplace(en.name, std::move(t));
  }
  return out;
}

}  // namespace spotlight
