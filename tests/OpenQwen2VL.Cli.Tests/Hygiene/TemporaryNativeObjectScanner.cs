using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace OpenQwen2VL.Tests.Hygiene;

/// <summary>One call site that hands libtorch a native-owning object nobody keeps alive.</summary>
public sealed record TemporaryNativeObjectSite(string Assembly, string Method, string Callee, string Reason)
{
    public override string ToString() => $"{Assembly}: {Method} -> {Callee}  [{Reason}]";
}

/// <summary>
/// Finds, in the IL of one of our assemblies, every call that creates a TorchSharp Scalar or Tensor as an unowned
/// temporary: implicit conversions (double -> Scalar, double -> Tensor, ...), calls to TorchSharp methods that create
/// one internally (<see cref="TorchSharpTemporaryScalars"/>), and Scalars from ToScalar() that are neither kept in a
/// field nor held in a disposed local. Such an object can be finalised by a GC on another thread while libtorch still
/// reads it (dotnet/TorchSharp PR #1434, #1496). Calls are resolved statically; a TorchSharp module's forward, reached
/// by virtual dispatch, is checked where the module is created (its constructor or torch.nn factory).
/// </summary>
public static class TemporaryNativeObjectScanner
{
    public static List<TemporaryNativeObjectSite> Scan(string assemblyPath, TorchSharpTemporaryScalars torchSharp, Func<string, bool>? methodFilter = null)
    {
        using var pe = new PEReader(File.OpenRead(assemblyPath));
        var md = pe.GetMetadataReader();
        string assembly = md.GetString(md.GetAssemblyDefinition().Name);
        var sites = new List<TemporaryNativeObjectSite>();
        foreach (var typeHandle in md.TypeDefinitions)
            foreach (var methodHandle in md.GetTypeDefinition(typeHandle).GetMethods())
            {
                var method = md.GetMethodDefinition(methodHandle);
                if (method.RelativeVirtualAddress == 0) continue;
                string name = MetadataMethodNames.Readable(md, methodHandle);
                if (methodFilter != null && !methodFilter(name)) continue;
                var il = IlInstructionReader.Read(pe.GetMethodBody(method.RelativeVirtualAddress));
                var callees = il.Select(i => IlInstructionReader.IsCall(i.OpCode)
                    ? MetadataMethodNames.Key(md, MetadataTokens.EntityHandle(i.Operand)) : null).ToArray();
                for (int i = 0; i < il.Count; i++)
                    if (callees[i] is string callee && Reason(callee, il, callees, i, torchSharp) is string reason)
                        sites.Add(new TemporaryNativeObjectSite(assembly, name, callee, reason));
            }
        return sites;
    }

    static string? Reason(string callee, List<IlInstruction> il, string?[] callees, int at, TorchSharpTemporaryScalars torchSharp)
    {
        if (TorchSharpTemporaryScalars.IsImplicitScalar(callee))
            return "implicit conversion to a temporary Scalar: keep a Scalar (static readonly field, or `using var s = x.ToScalar()`)";
        if (callee.StartsWith("TorchSharp.torch/Tensor::op_Implicit(", StringComparison.Ordinal))
            return "implicit conversion to a temporary Tensor: create it explicitly and own it";
        if (torchSharp.Contains(callee))
            return "TorchSharp creates a temporary Scalar inside this overload: use one that takes every Scalar explicitly";
        if (callee.StartsWith("TorchSharp.", StringComparison.Ordinal) && torchSharp.HasHazardousForward(CreatedType(callee)))
            return "this TorchSharp module's forward creates a temporary Scalar: write the forward with explicit Scalars";
        if (callee.StartsWith("TorchSharp.", StringComparison.Ordinal) && callee.EndsWith("->TorchSharp.Scalar", StringComparison.Ordinal)
            && !IsKept(il, callees, at))
            return "Scalar is neither stored in a field nor held in a local that is disposed";
        return null;
    }

    /// <summary>The type a constructor call or a factory method (torch.nn.Softplus(...)) creates: the declaring type of
    /// a constructor, otherwise the return type.</summary>
    static string CreatedType(string callee) => callee.Contains("::.ctor(", StringComparison.Ordinal)
        ? callee[..callee.IndexOf("::", StringComparison.Ordinal)]
        : callee[(callee.LastIndexOf(")->", StringComparison.Ordinal) + 3)..];

    /// <summary>The call's result goes straight into a field, or into a local that the method later disposes.</summary>
    static bool IsKept(List<IlInstruction> il, string?[] callees, int at)
    {
        if (at + 1 >= il.Count) return false;
        var next = il[at + 1];
        if (next.OpCode is ILOpCode.Stfld or ILOpCode.Stsfld) return true;
        if (IlInstructionReader.LocalSlot(next, store: true) is not int slot) return false;
        // `using var s = ...` ends in `ldloc s; callvirt IDisposable::Dispose` (an explicit s.Dispose() looks the same).
        for (int i = 0; i + 1 < il.Count; i++)
            if (IlInstructionReader.LocalSlot(il[i], store: false) == slot
                && callees[i + 1] is string call && call.Contains("::Dispose()", StringComparison.Ordinal))
                return true;
        return false;
    }
}
