#include "spotlight/safetensors.h"

#include <unistd.h>

#include <bit>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "spotlight/check.h"

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

  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  require(f != nullptr, "cannot write " + tmp + ": " + std::strerror(errno));
  bool ok = std::fwrite(&n, 8, 1, f) == 1 && std::fwrite(h.data(), 1, h.size(), f) == h.size();
  for (const auto& [name, t] : tensors)
    ok = ok && std::fwrite(t->data(), sizeof(float), static_cast<size_t>(t->size()), f) ==
                   static_cast<size_t>(t->size());
  ok = ok && std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    require(false, "failed writing " + path + " (disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  require(!ec, "cannot rename " + tmp + " to " + path + ": " + ec.message());
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
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(h);
  } catch (const nlohmann::json::exception& e) {
    require(false, path + ": corrupt safetensors header: " + e.what());
  }
  require(header.is_object(), path + ": corrupt safetensors header (not a JSON object)");
  const uint64_t data_size = file_size - 8 - n;
  std::map<std::string, Tensor> out;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      if (metadata != nullptr)
        for (const auto& [k, v] : info.items())
          (*metadata)[k] = v.is_string() ? v.get<std::string>() : v.dump();
      continue;
    }
    const std::string where = path + ": tensor '" + name + "'";
    require(info.is_object() && info.value("dtype", "") == "F32",
            where + " is not float32 (dtype " +
                (info.is_object() ? info.value("dtype", "?") : "?") + "); only F32 is supported");
    require(info.contains("shape") && info["shape"].is_array() && info["shape"].size() <= 4 &&
                info.contains("data_offsets") && info["data_offsets"].is_array() &&
                info["data_offsets"].size() == 2,
            where + ": malformed header entry");
    std::vector<long> shape;
    uint64_t count = 1;
    for (const auto& d : info["shape"]) {
      require(d.is_number_unsigned(), where + ": malformed shape");
      shape.push_back(d.get<long>());
      count *= d.get<uint64_t>();
    }
    const auto b = info["data_offsets"][0].get<uint64_t>();
    const auto e = info["data_offsets"][1].get<uint64_t>();
    require(b <= e && e <= data_size,
            where + ": data offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                ") lie outside the " + std::to_string(data_size) + " data bytes (file truncated?)");
    require(e - b == count * sizeof(float), where + ": data size does not match its shape");
    ranges.emplace_back(b, e);
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
    in.seekg(static_cast<std::streamoff>(8 + n + b));
    require(in.read(reinterpret_cast<char*>(t.data()), static_cast<std::streamsize>(e - b)).good(),
            where + ": truncated data");
    out.emplace(name, std::move(t));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    require(ranges[i].first >= ranges[i - 1].second, path + ": overlapping tensor data");
  return out;
}

}  // namespace spotlight
