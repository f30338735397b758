using System.Collections.Generic;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;

namespace OpenQwen2VL.Analyzers;

/// <summary>
/// Names a method the way its IL metadata does ("TorchSharp.torch/Tensor::add(TorchSharp.torch/Tensor)->TorchSharp.torch/Tensor"):
/// nested types after '/', generic types with their arity ("System.Nullable`1&lt;Int64&gt;"), primitives by their
/// metadata name, type parameters as !n / !!n. The analyzer tests compute the list of hazardous TorchSharp members from
/// TorchSharp.dll's IL in exactly this form, so a symbol and an IL definition meet on one string.
/// </summary>
public static class MemberKeys
{
    public static string Of(IMethodSymbol method)
    {
        method = (method.ReducedFrom ?? method).OriginalDefinition;
        var sb = new StringBuilder();
        sb.Append(TypeDefinition(method.ContainingType)).Append("::").Append(method.MetadataName).Append('(');
        for (int i = 0; i < method.Parameters.Length; i++)
        {
            if (i > 0) sb.Append(',');
            var p = method.Parameters[i];
            sb.Append(Type(p.Type));
            if (p.RefKind != RefKind.None) sb.Append('&');
        }
        sb.Append(")->").Append(Type(method.ReturnType));
        if (method.RefKind != RefKind.None) sb.Append('&');
        return sb.ToString();
    }

    /// <summary>A type's definition without type arguments: "TorchSharp.Modules.Softplus", "TorchSharp.torch/nn/Module`2".</summary>
    public static string TypeDefinition(INamedTypeSymbol type)
    {
        type = type.OriginalDefinition;
        if (type.ContainingType is { } outer) return TypeDefinition(outer) + "/" + type.MetadataName;
        var ns = type.ContainingNamespace;
        return ns is null || ns.IsGlobalNamespace ? type.MetadataName : ns.ToDisplayString() + "." + type.MetadataName;
    }

    static string Type(ITypeSymbol type)
    {
        switch (type)
        {
            case IArrayTypeSymbol array:
                return Type(array.ElementType) + (array.IsSZArray ? "[]" : "[" + new string(',', array.Rank - 1) + "]");
            case IPointerTypeSymbol pointer:
                return Type(pointer.PointedAtType) + "*";
            case IFunctionPointerTypeSymbol:
                return "method*";
            case ITypeParameterSymbol tp:
                return tp.TypeParameterKind == TypeParameterKind.Method ? "!!" + tp.Ordinal : "!" + (tp.Ordinal + OuterArity(tp.DeclaringType));
            case IDynamicTypeSymbol:
                return "Object";
        }
        if (Primitive(type.SpecialType) is string primitive) return primitive;
        if (type is INamedTypeSymbol named)
        {
            // Tuples are ValueTuple`n instantiations in metadata.
            if (named.IsTupleType && named.TupleUnderlyingType is { } underlying) named = underlying;
            var arguments = AllTypeArguments(named);
            string definition = TypeDefinition(named);
            return arguments.Count == 0 || named.IsUnboundGenericType
                ? definition
                : definition + "<" + string.Join(",", arguments.Select(Type)) + ">";
        }
        return type.ToDisplayString();
    }

    /// <summary>Metadata lists the type arguments of every enclosing generic type too, outermost first.</summary>
    static List<ITypeSymbol> AllTypeArguments(INamedTypeSymbol type)
    {
        var list = type.ContainingType is { } outer ? AllTypeArguments(outer) : new List<ITypeSymbol>();
        list.AddRange(type.TypeArguments);
        return list;
    }

    static int OuterArity(INamedTypeSymbol? type)
    {
        int n = 0;
        for (var t = type?.ContainingType; t is not null; t = t.ContainingType) n += t.Arity;
        return n;
    }

    static string? Primitive(SpecialType t) => t switch
    {
        SpecialType.System_Void => "Void",
        SpecialType.System_Boolean => "Boolean",
        SpecialType.System_Char => "Char",
        SpecialType.System_SByte => "SByte",
        SpecialType.System_Byte => "Byte",
        SpecialType.System_Int16 => "Int16",
        SpecialType.System_UInt16 => "UInt16",
        SpecialType.System_Int32 => "Int32",
        SpecialType.System_UInt32 => "UInt32",
        SpecialType.System_Int64 => "Int64",
        SpecialType.System_UInt64 => "UInt64",
        SpecialType.System_Single => "Single",
        SpecialType.System_Double => "Double",
        SpecialType.System_String => "String",
        SpecialType.System_Object => "Object",
        SpecialType.System_IntPtr => "IntPtr",
        SpecialType.System_UIntPtr => "UIntPtr",
        SpecialType.System_TypedReference => "TypedReference",
        _ => null,
    };
}
