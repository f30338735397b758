using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Model.Checkpoints;
using static TorchSharp.torch;

namespace OpenQwen2VL.Benchmarks;

/// <summary>
/// Checkpoint loading: a synthetic ≥1 GB bf16 safetensors file (Qwen2.5-1.5B-shaped: its embedding and 6 of its
/// 28 blocks) loaded into a module with the same parameters. Our loader (memory map → parameter, one tensor at a
/// time, mapped pages released) against the naive way (whole file into a byte[] first, then copy), same run.
/// Peak RSS is VmHWM, reset before each load through /proc/self/clear_refs.
/// </summary>
public sealed partial class CheckpointBenchmark : IBenchmark
{
    public string Name => "checkpoint";
    public string Description => "safetensors write and load (time, peak RSS) vs reading the whole file first";

    private static (string Name, long[] Shape)[] Layout(bool quick)
    {
        // Qwen2.5-1.5B sizes (hidden 1536, 8960 MLP, 2 KV heads of 128, vocabulary 151936); --quick: a tenth.
        long h = quick ? 256 : 1536, ff = quick ? 1024 : 8960, kv = quick ? 64 : 256, vocab = quick ? 16384 : 151936;
        int layers = quick ? 2 : 6;
        var list = new List<(string, long[])> { ("model.embed_tokens.weight", [vocab, h]) };
        for (int i = 0; i < layers; i++)
        {
            var p = $"model.layers.{i}.";
            list.Add((p + "input_layernorm.weight", [h]));
            list.Add((p + "self_attn.q_proj.weight", [h, h]));
            list.Add((p + "self_attn.q_proj.bias", [h]));
            list.Add((p + "self_attn.k_proj.weight", [kv, h]));
            list.Add((p + "self_attn.k_proj.bias", [kv]));
            list.Add((p + "self_attn.v_proj.weight", [kv, h]));
            list.Add((p + "self_attn.v_proj.bias", [kv]));
            list.Add((p + "self_attn.o_proj.weight", [h, h]));
            list.Add((p + "post_attention_layernorm.weight", [h]));
            list.Add((p + "mlp.gate_proj.weight", [ff, h]));
            list.Add((p + "mlp.up_proj.weight", [ff, h]));
            list.Add((p + "mlp.down_proj.weight", [h, ff]));
        }
        list.Add(("model.norm.weight", [h]));
        return list.ToArray();
    }

    public IEnumerable<BenchRow> Run(bool quick)
    {
        var layout = Layout(quick);
        var path = Path.Combine(Path.GetTempPath(), $"oqvl-bench-{Environment.ProcessId}.safetensors");
        var rows = new List<BenchRow>();
        try
        {
            // A 1 MiB pattern of bf16 values, repeated: real-looking bytes without generating a GB of random numbers.
            var pattern = new byte[1 << 20];
            var rng = new Random(1);
            for (int i = 0; i < pattern.Length; i += 2)
                BitConverter.TryWriteBytes(pattern.AsSpan(i), (ushort)(BitConverter.SingleToInt32Bits((float)(rng.NextDouble() - 0.5)) >> 16));
            var sources = layout.Select(l => new SafetensorsTensorSource(l.Name, "BF16", l.Shape, s =>
            {
                long left = l.Shape.Aggregate(1L, (a, b) => a * b) * 2;
                while (left > 0) { int n = (int)Math.Min(left, pattern.Length); s.Write(pattern, 0, n); left -= n; }
            })).ToList();

            var clock = Stopwatch.StartNew();
            long bytes = SafetensorsWriter.Write(path, sources);
            double writeS = clock.Elapsed.TotalSeconds;
            double gb = bytes / 1e9;
            rows.Add(new BenchRow($"write {gb:F2} GB bf16 ({layout.Length} tensors)", "throughput", bytes / 1e6 / writeS, "MB/s"));

            using var module = CheckpointModule.Create(layout.Select(l => (l.Name, l.Shape, ScalarType.BFloat16)));
            double moduleMb = bytes / 1e6;

            // One untimed load first: JIT and page cache are then warm for both measured loads.
            CheckpointLoader.LoadInto(module, path, ScalarType.BFloat16, CPU);
            ZeroAll(module);
            var (streamS, streamPeak, streamBase) = Measure(() => CheckpointLoader.LoadInto(module, path, ScalarType.BFloat16, CPU));
            Check(module, pattern);
            ZeroAll(module);
            var (naiveS, naivePeak, naiveBase) = Measure(() => NaiveLoad(module, path));
            Check(module, pattern);

            rows.Add(new BenchRow("load into bf16, naive (file -> byte[] -> params)", "time", naiveS, "s"));
            rows.Add(new BenchRow("load into bf16, mmap tensor by tensor", "time", streamS, "s", "naive", naiveS / streamS));
            rows.Add(new BenchRow($"naive: peak RSS above module ({moduleMb:F0} MB)", "peak RSS extra", (naivePeak - naiveBase) / 1e6, "MB"));
            rows.Add(new BenchRow($"mmap: peak RSS above module ({moduleMb:F0} MB)", "peak RSS extra", (streamPeak - streamBase) / 1e6, "MB",
                "naive", (naivePeak - naiveBase) / (double)Math.Max(1, streamPeak - streamBase)));
            rows.Add(new BenchRow("naive: process peak RSS", "peak RSS", naivePeak / 1e6, "MB"));
            rows.Add(new BenchRow("mmap: process peak RSS", "peak RSS", streamPeak / 1e6, "MB", "naive", naivePeak / (double)streamPeak));

            // Conversion path: bf16 file into a float32 module (one temporary tensor at a time).
            module.Dispose();
            using var f32 = CheckpointModule.Create(layout.Select(l => (l.Name, l.Shape, ScalarType.Float32)));
            var (convS, convPeak, convBase) = Measure(() => CheckpointLoader.LoadInto(f32, path, ScalarType.Float32, CPU));
            rows.Add(new BenchRow($"load into fp32 ({2 * moduleMb:F0} MB), mmap", "time", convS, "s"));
            rows.Add(new BenchRow("fp32: peak RSS above module", "peak RSS extra", (convPeak - convBase) / 1e6, "MB"));
        }
        finally
        {
            File.Delete(path);
        }
        return rows;
    }

    /// <summary>Seconds, peak RSS during the action, and RSS just before it (bytes).</summary>
    private static (double Seconds, long Peak, long Before) Measure(Action action)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        ResetPeak();
        long before = Status("VmRSS");
        var clock = Stopwatch.StartNew();
        action();
        double s = clock.Elapsed.TotalSeconds;
        return (s, Status("VmHWM"), before);
    }

    /// <summary>The naive baseline: read the whole file into managed memory, then copy each tensor out of it.</summary>
    private static void NaiveLoad(TorchSharp.torch.nn.Module module, string path)
    {
        byte[] all = File.ReadAllBytes(path);
        using var file = SafetensorsFile.Open(path); // header only: data pages are never touched
        using (no_grad())
            foreach (var (name, p) in module.named_parameters())
            {
                var e = file[name];
                all.AsSpan((int)e.Offset, (int)e.ByteLength).CopyTo(p.bytes);
            }
        GC.KeepAlive(all);
    }

    private static void ZeroAll(TorchSharp.torch.nn.Module module)
    {
        using (no_grad()) foreach (var p in module.parameters()) p.zero_();
    }

    /// <summary>Guards the timing: the first tensor must hold the file's bytes.</summary>
    private static void Check(TorchSharp.torch.nn.Module module, byte[] pattern)
    {
        var p = module.named_parameters().First().parameter;
        var head = p.bytes[..Math.Min(pattern.Length, p.bytes.Length)];
        if (!head.SequenceEqual(pattern.AsSpan(0, head.Length))) throw new InvalidOperationException("loaded bytes differ from the file");
    }

    private static void ResetPeak()
    {
        // Linux ≥ 4.0: writing 5 resets VmHWM to the current RSS.
        if (OperatingSystem.IsLinux()) File.WriteAllText("/proc/self/clear_refs", "5");
    }

    private static long Status(string field)
    {
        if (!OperatingSystem.IsLinux()) return 0;
        var m = Regex.Match(File.ReadAllText("/proc/self/status"), field + @":\s+(\d+) kB");
        return m.Success ? long.Parse(m.Groups[1].Value) * 1024 : 0;
    }
}
