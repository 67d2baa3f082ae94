from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from .service import search


@login_required
def search_page(request):
    query = request.GET.get("q", "").strip()[:100]
    results = search(request.user, query, limit=10) if query else None
    template = "search/_results.html" if request.headers.get("HX-Request") else "search/search.html"
    return render(request, template, {"query": query, "results": results})
