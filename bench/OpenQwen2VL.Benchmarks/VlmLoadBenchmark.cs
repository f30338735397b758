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
/// model built, each file read whole into a byte[], then tensors copied from it. Each load runs in its own child
/// process (page cache warm from writing the files); time, and peak RSS (VmHWM) above the RSS once libtorch is loaded.
/// The loader also reads the tokenizer and the image transform config, which the baseline skips.
/// Both include building the network (random init, directly in bf16: the constructors' dtype argument).
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
        if (Environment.GetEnvironmentVariable(ChildVariable) is { Length: > 0 } spec) RunChild(spec, quick);
        var config = Config(quick);
        var root = Directory.CreateTempSubdirectory("oqvl-bench-vlm-load-").FullName;
        var rows = new List<BenchRow>();
        try
        {
            var options = WriteFolders(config, root, PackBenchmark.FindFixtureTokenizer());
            var files = Directory.EnumerateFiles(root, "*.safetensors", SearchOption.AllDirectories).ToList();
            double gb = files.Sum(f => new FileInfo(f).Length) / 1e9;
            string what = $"{gb:F2} GB bf16 in {files.Count} files";

            // Each load runs in a fresh process: peak RSS then measures the load alone, not memory the allocator kept from an earlier run.
            var (oursWall, oursCpu, oursPeak) = InChild("ours", config, options);
            var (naiveWall, naiveCpu, naivePeak) = InChild("naive", config, options);

            rows.Add(new BenchRow($"naive: build + whole files into byte arrays + copy ({what})", "wall time", naiveWall, "s"));
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
    /// <summary>The HF folders the benchmark writes and loads.</summary>
    private sealed record Folders(string LlmPath, string VisionPath, string ProjectorPath);

    private static Folders WriteFolders(VlmConfig config, string root, string tokenizer)
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
        return new Folders(llm, vision, projector);
    }

    /// <summary>The baseline: each file read whole, then every parameter copied out of the byte[] (what a simple reader does).</summary>
    private static VisionLanguageModel NaiveLoad(VlmConfig config, Folders options)
    {
        var model = new VisionLanguageModel(config, ScalarType.BFloat16);
        CopyFromWholeFile(model.VisionBackbone, Path.Combine(options.VisionPath, SafetensorsIndex.SingleFileName));
        CopyFromWholeFile(model.Projector, options.ProjectorPath);
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

    private const string ChildVariable = "OQVL_BENCH_VLM_LOAD_CHILD";

    /// <summary>Runs one load in a child process of this benchmark (same executable, same config) and reads back its numbers.</summary>
    private static (double Wall, double Cpu, long PeakAboveStart) InChild(string which, VlmConfig config, Folders options)
    {
        var self = Environment.ProcessPath!;
        var psi = new System.Diagnostics.ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") psi.ArgumentList.Add(typeof(VlmLoadBenchmark).Assembly.Location);
        psi.ArgumentList.Add("vlm-load");
        if (config.Llm.VocabSize != Config(quick: false).Llm.VocabSize) psi.ArgumentList.Add("--quick");
        psi.Environment[ChildVariable] = $"{which}|{options.LlmPath}|{options.VisionPath}|{options.ProjectorPath}";
        using var child = System.Diagnostics.Process.Start(psi)!;
        var lines = child.StandardOutput.ReadToEnd().Split('\n');
        child.WaitForExit();
        var result = lines.FirstOrDefault(l => l.StartsWith("VLM-LOAD ", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"vlm-load child ({which}) exited {child.ExitCode} without a result");
        var v = result.Split(' ')[1..].Select(x => double.Parse(x, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        return (v[0], v[1], (long)v[2]);
    }

    /// <summary>In the child: one load, then "VLM-LOAD wall cpu peak-above-start" and exit.</summary>
    private static void RunChild(string spec, bool quick)
    {
        var parts = spec.Split('|');
        var config = Config(quick);
        var options = new Folders(parts[1], parts[2], parts[3]);
        using (var warm = zeros(1)) { } // libtorch loaded before the start RSS is read
        long start = Status("VmRSS");
        var (_, wall, cpu) = BenchTiming.Measure(() =>
        {
            if (parts[0] == "ours")
                VlmLoader.Load(ModelSourceResolver.Resolve(new ModelRequest { Llm = options.LlmPath, Vision = options.VisionPath, Projector = options.ProjectorPath }),
                    new VlmLoadSettings { DType = ScalarType.BFloat16, VisualTokens = config.PoolSide * config.PoolSide }).Dispose();
            else NaiveLoad(config, options).Dispose();
            return 0;
        });
        FormattableString line = $"VLM-LOAD {wall} {cpu} {Status("VmHWM") - start}";
        Console.WriteLine(line.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Environment.Exit(0);
    }

    /// <summary>A /proc/self/status memory field in bytes.</summary>
    private static long Status(string field)
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }
}
