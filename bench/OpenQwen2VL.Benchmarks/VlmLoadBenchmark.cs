using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Model.Checkpoints;
using OpenQwen2VL.Model.Projector;
using OpenQwen2VL.Model.Qwen2;
using OpenQwen2VL.Model.Siglip;
using OpenQwen2VL.Model.Vlm;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenQwen2VL.Benchmarks;

/// <summary>
/// Assembling the whole VLM from HF folders in /tmp (SigLIP folder, projector safetensors, Qwen2 folder, tokenizer)
/// with <see cref="VlmLoader"/>, for a mid-size synthetic bf16 model (≥1 GB of weights: Qwen2.5-1.5B widths and
/// vocabulary with 6 blocks, SigLIP-SO400M widths with 4 blocks), against the naive way in the same run: the same
/// model built, each file read whole into a byte[], then tensors copied from it. Time and peak RSS (VmHWM, reset
/// through /proc/self/clear_refs before each run; reported above the RSS at the start of the run), after one untimed
/// round of each. The loader also reads the tokenizer and the image transform config, which the baseline skips.
/// Both include building the network (random init, float32, then converted), which the loader does not avoid.
/// </summary>
public sealed class VlmLoadBenchmark : IBenchmark
{
    public string Name => "vlm-load";
    public string Description => "assemble the VLM from HF folders (≥1 GB bf16): VlmLoader vs reading whole files into byte arrays (time, peak RSS)";

    private static VlmConfig Config(bool quick) => new(
        new SiglipVisionConfig
        {
            HiddenSize = quick ? 288 : 1152, IntermediateSize = quick ? 1076 : 4304, NumHiddenLayers = 4, NumAttentionHeads = quick ? 4 : 16,
            ImageSize = 384, PatchSize = 14,
        },
        new Qwen2Config
        {
            VocabSize = quick ? 15194 : 151936, HiddenSize = quick ? 384 : 1536, IntermediateSize = quick ? 2240 : 8960,
            NumHiddenLayers = quick ? 2 : 6, NumAttentionHeads = 12, NumKeyValueHeads = 2, RopeTheta = 1e6, TieWordEmbeddings = true,
            MaxPositionEmbeddings = 32768, TorchDtype = "bfloat16",
        },
        PoolSide: 12);

    public IEnumerable<BenchRow> Run(bool quick)
    {
        var config = Config(quick);
        var root = Directory.CreateTempSubdirectory("oqvl-bench-vlm-load-").FullName;
        var rows = new List<BenchRow>();
        try
        {
            var options = WriteFolders(config, root, PackBenchmark.FindFixtureTokenizer());
            var files = Directory.EnumerateFiles(root, "*.safetensors", SearchOption.AllDirectories).ToList();
            double gb = files.Sum(f => new FileInfo(f).Length) / 1e9;
            string what = $"{gb:F2} GB bf16 in {files.Count} files";

            // A first untimed round of each warms the JIT, libtorch and the page cache for both alike.
            VlmLoader.Load(options).Dispose();
            NaiveLoad(config, options).Dispose();
            var (oursWall, oursCpu, oursPeak) = Measure(() => VlmLoader.Load(options).Dispose());
            var (naiveWall, naiveCpu, naivePeak) = Measure(() => NaiveLoad(config, options).Dispose());

            rows.Add(new BenchRow($"naive: build + whole files into byte[] + copy ({what})", "wall time", naiveWall, "s"));
            rows.Add(new BenchRow("naive", "CPU time", naiveCpu, "s"));
            rows.Add(new BenchRow("naive", "peak RSS above start", naivePeak / 1e6, "MB"));
            rows.Add(new BenchRow($"VlmLoader.Load: build + mmap, one tensor at a time ({what})", "wall time", oursWall, "s", "naive", oursWall / naiveWall));
            rows.Add(new BenchRow("VlmLoader.Load", "CPU time", oursCpu, "s", "naive", oursCpu / naiveCpu));
            rows.Add(new BenchRow("VlmLoader.Load", "peak RSS above start", oursPeak / 1e6, "MB", "naive", (double)oursPeak / naivePeak));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
        return rows;
    }

    /// <summary>Random-init networks exported as HF folders in bf16 (what VlmLoader reads).</summary>
    private static VlmLoadOptions WriteFolders(VlmConfig config, string root, string tokenizer)
    {
        string llm = Path.Combine(root, "qwen2"), vision = Path.Combine(root, "siglip"), projector = Path.Combine(root, "projector.safetensors");
        Directory.CreateDirectory(llm);
        Directory.CreateDirectory(vision);
        using (var lm = new Qwen2ForCausalLM(config.Llm))
        {
            config.Llm.Save(llm);
            SafetensorsExport.SaveHfFolder(lm, llm, ScalarType.BFloat16);
        }
        File.Copy(tokenizer, Path.Combine(llm, "tokenizer.json"));
        using (var tower = new SiglipVisionModel(config.Vision, backbone: false))
        {
            var v = config.Vision;
            var json = new JsonObject
            {
                ["model_type"] = "siglip_vision_model", ["hidden_size"] = v.HiddenSize, ["intermediate_size"] = v.IntermediateSize,
                ["num_hidden_layers"] = v.NumHiddenLayers, ["num_attention_heads"] = v.NumAttentionHeads, ["image_size"] = v.ImageSize,
                ["patch_size"] = v.PatchSize, ["hidden_act"] = v.HiddenAct, ["layer_norm_eps"] = v.LayerNormEps, ["num_channels"] = v.NumChannels,
            };
            File.WriteAllText(Path.Combine(vision, "config.json"), json.ToJsonString());
            SafetensorsExport.SaveHfFolder(tower, vision, ScalarType.BFloat16);
        }
        using (var mlp = new MlpProjector(config.Vision.HiddenSize, config.Llm.HiddenSize, config.PoolSide))
            SafetensorsExport.Save(mlp, projector, ScalarType.BFloat16);
        return new VlmLoadOptions { LlmPath = llm, VisionPath = vision, ProjectorPath = projector, DType = ScalarType.BFloat16, PoolSide = config.PoolSide };
    }

    /// <summary>The baseline: each file read whole, then every parameter copied out of the byte[] (what a simple reader does).</summary>
    private static VisionLanguageModel NaiveLoad(VlmConfig config, VlmLoadOptions options)
    {
        var model = new VisionLanguageModel(config);
        model.to(options.DType);
        CopyFromWholeFile(model.VisionBackbone, Path.Combine(options.VisionPath, SafetensorsIndex.SingleFileName));
        CopyFromWholeFile(model.Projector, options.ProjectorPath!);
        CopyFromWholeFile(model.Llm, Path.Combine(options.LlmPath, SafetensorsIndex.SingleFileName));
        return model;
    }

    private static void CopyFromWholeFile(nn.Module module, string path)
    {
        Dictionary<string, SafetensorsEntry> entries;
        using (var header = SafetensorsFile.Open(path)) entries = header.Entries.ToDictionary(e => e.Name);
        var bytes = File.ReadAllBytes(path);
        using var noGrad = no_grad();
        foreach (var (name, p) in module.named_parameters())
        {
            var e = entries[name];
            using var t = empty(e.Shape, SafetensorsTensors.ToScalarType(e.DType));
            bytes.AsSpan(checked((int)e.Offset), checked((int)e.ByteLength)).CopyTo(t.bytes);
            p.copy_(t);
        }
    }

    private static (double Wall, double Cpu, long PeakAboveStart) Measure(Action run)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        // Linux ≥ 4.0: writing 5 resets VmHWM to the current RSS.
        File.WriteAllText("/proc/self/clear_refs", "5");
        long start = Status("VmRSS");
        var (_, wall, cpu) = BenchTiming.Measure(() => { run(); return 0; });
        return (wall, cpu, Status("VmHWM") - start);
    }

    /// <summary>A /proc/self/status memory field in bytes.</summary>
    private static long Status(string field)
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }
}
